package things_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/things"
	"github.com/cairn-iot/cairn/platform/users"
)

// env is a users and a things service on one embedded bus, behind one mux.
type env struct {
	t   testing.TB
	bus *bus.Bus
	svc *things.Service
	mux *http.ServeMux
}

func newEnv(t testing.TB, b *bus.Bus) *env {
	t.Helper()
	ctx := context.Background()
	us, err := users.NewService(ctx, b.JS, users.WithCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := things.NewService(ctx, b.Conn, b.JS, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	us.Routes(mux)
	ts.Routes(mux)
	return &env{t: t, bus: b, svc: ts, mux: mux}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (e *env) do(method, path, token, body string) response {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return response{w.Code, w.Header(), w.Body.String()}
}

// must does a request that must answer want, and decodes the body into v (if not nil).
func (e *env) must(want int, method, path, token, body string, v any) response {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.code != want {
		e.t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, r.code, r.body, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.body), v); err != nil {
			e.t.Fatalf("%s %s: body %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// user registers email and returns a token.
func (e *env) user(email string) string {
	e.t.Helper()
	e.must(201, "POST", "/users", "", fmt.Sprintf(`{"email":%q,"password":"password1"}`, email), nil)
	var tok struct{ Token string }
	e.must(201, "POST", "/tokens", "", fmt.Sprintf(`{"email":%q,"password":"password1"}`, email), &tok)
	return tok.Token
}

type thing struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Key      string         `json:"key"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

type channel struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

func (e *env) events() []map[string]string {
	e.t.Helper()
	all, err := events.All(context.Background(), e.bus.JS, events.ThingsSubject)
	if err != nil {
		e.t.Fatal(err)
	}
	var fields []map[string]string
	for _, ev := range all {
		fields = append(fields, ev.Fields)
	}
	return fields
}

func userID(t *testing.T, e *env, tok string) string {
	var me struct{ ID string }
	e.must(200, "GET", "/users/me", tok, "", &me)
	return me.ID
}

// TestFlow drives every state change once and compares the state and the event log.
func TestFlow(t *testing.T) {
	e := newEnv(t, bustest.New(t))
	tok := e.user("ada@example.com")
	owner := userID(t, e, tok)

	var th thing
	r := e.must(201, "POST", "/things", tok, `{"name":"lamp","metadata":{"room":"kitchen","watts":40}}`, &th)
	if got, want := r.header.Get("Location"), "/things/"+th.ID; got != want {
		t.Errorf("POST /things Location = %q, want %q", got, want)
	}
	if th.Key == "" || th.Name != "lamp" {
		t.Errorf("POST /things = %+v, want a key and the name", th)
	}
	var got thing
	e.must(200, "GET", "/things/"+th.ID, tok, "", &got)
	if diff := cmp.Diff(th, got); diff != "" {
		t.Errorf("GET /things/id (-want +got):\n%s", diff)
	}
	var ch channel
	r = e.must(201, "POST", "/channels", tok, `{"name":"kitchen"}`, &ch)
	if got, want := r.header.Get("Location"), "/channels/"+ch.ID; got != want {
		t.Errorf("POST /channels Location = %q, want %q", got, want)
	}

	e.must(200, "PUT", "/things/"+th.ID, tok, `{"name":"lamp2","metadata":{"room":"hall"}}`, nil)
	got = thing{}
	e.must(200, "GET", "/things/"+th.ID, tok, "", &got)
	want := thing{ID: th.ID, Name: "lamp2", Key: th.Key, Metadata: map[string]any{"room": "hall"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /things/id after PUT (-want +got):\n%s", diff)
	}
	e.must(200, "PUT", "/channels/"+ch.ID, tok, `{"name":"kitchen2"}`, nil)
	var gotCh channel
	e.must(200, "GET", "/channels/"+ch.ID, tok, "", &gotCh)
	if gotCh.Name != "kitchen2" {
		t.Errorf("GET /channels/id after PUT = %+v, want name kitchen2", gotCh)
	}

	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil)
	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil) // again: no event
	var conns struct {
		Total  int
		Things []thing
	}
	e.must(200, "GET", "/channels/"+ch.ID+"/things", tok, "", &conns)
	if conns.Total != 1 || len(conns.Things) != 1 || conns.Things[0].ID != th.ID {
		t.Errorf("GET /channels/id/things = %+v, want the one thing", conns)
	}
	var chans struct {
		Total    int
		Channels []channel
	}
	e.must(200, "GET", "/things/"+th.ID+"/channels", tok, "", &chans)
	if chans.Total != 1 || chans.Channels[0].ID != ch.ID {
		t.Errorf("GET /things/id/channels = %+v, want the one channel", chans)
	}
	e.must(204, "DELETE", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil)
	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil)
	e.must(204, "DELETE", "/things/"+th.ID, tok, "", nil)
	e.must(404, "GET", "/things/"+th.ID, tok, "", nil)
	e.must(200, "GET", "/channels/"+ch.ID+"/things", tok, "", &conns)
	if conns.Total != 0 {
		t.Errorf("after removing the thing, its channel lists %d things, want 0", conns.Total)
	}
	e.must(204, "DELETE", "/channels/"+ch.ID, tok, "", nil)
	e.must(404, "GET", "/channels/"+ch.ID, tok, "", nil)

	wantEvents := []map[string]string{
		{"operation": "thing.create", "id": th.ID, "owner": owner, "name": "lamp", "metadata": `{"room":"kitchen","watts":40}`},
		{"operation": "channel.create", "id": ch.ID, "owner": owner, "name": "kitchen"},
		{"operation": "thing.update", "id": th.ID, "name": "lamp2", "metadata": `{"room":"hall"}`},
		{"operation": "channel.update", "id": ch.ID, "name": "kitchen2"},
		{"operation": "thing.connect", "chan_id": ch.ID, "thing_id": th.ID},
		{"operation": "thing.disconnect", "chan_id": ch.ID, "thing_id": th.ID},
		{"operation": "thing.connect", "chan_id": ch.ID, "thing_id": th.ID},
		{"operation": "thing.remove", "id": th.ID},
		{"operation": "channel.remove", "id": ch.ID},
	}
	if diff := cmp.Diff(wantEvents, e.events()); diff != "" {
		t.Errorf("events.things replayed from the start (-want +got):\n%s", diff)
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t, bustest.New(t))
	tok := e.user("pat@example.com")
	other := e.user("other@example.com")
	e.must(201, "POST", "/things", other, `{"name":"not mine"}`, nil)
	var ids []string
	for i := range 5 {
		var th thing
		e.must(201, "POST", "/things", tok, fmt.Sprintf(`{"name":"t%d"}`, i), &th)
		ids = append(ids, th.ID)
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", ids},
		{"?limit=2", ids[:2]},
		{"?offset=2&limit=2", ids[2:4]},
		{"?offset=4&limit=100", ids[4:]},
		{"?offset=5", nil},
		{"?offset=50", nil},
	}
	for _, tt := range tests {
		var page struct {
			Total, Offset, Limit int
			Things               []thing
		}
		e.must(200, "GET", "/things"+tt.query, tok, "", &page)
		var got []string
		for _, th := range page.Things {
			got = append(got, th.ID)
		}
		if page.Total != 5 || !cmp.Equal(got, tt.want) {
			t.Errorf("GET /things%s = total %d, ids %v, want total 5, ids %v", tt.query, page.Total, got, tt.want)
		}
	}
}

// TestRefusals: every refusal answers its status and changes nothing (no event, same state).
func TestRefusals(t *testing.T) {
	e := newEnv(t, bustest.New(t))
	tok := e.user("ada@example.com")
	eve := e.user("eve@example.com")
	var th, evesThing thing
	var ch channel
	e.must(201, "POST", "/things", tok, `{"name":"lamp","metadata":{"a":1}}`, &th)
	e.must(201, "POST", "/things", eve, `{"name":"eve's"}`, &evesThing)
	e.must(201, "POST", "/channels", tok, `{"name":"c"}`, &ch)
	before := e.events()
	unknown := "0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b"
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "GET", "/things", "", "", 401},
		{"bad token", "GET", "/things", "nope", "", 401},
		{"no token create", "POST", "/things", "", `{"name":"x"}`, 401},
		{"bad token delete", "DELETE", "/things/" + th.ID, "nope", "", 401},
		{"bad token connect", "PUT", "/channels/" + ch.ID + "/things/" + th.ID, "nope", "", 401},
		{"malformed create", "POST", "/things", tok, `{"name":`, 400},
		{"unknown field", "POST", "/things", tok, `{"nom":"x"}`, 400},
		{"metadata not object", "POST", "/things", tok, `{"name":"x","metadata":[1]}`, 400},
		{"metadata string", "POST", "/channels", tok, `{"name":"x","metadata":"a"}`, 400},
		{"name too long", "POST", "/channels", tok, `{"name":"` + strings.Repeat("n", 1025) + `"}`, 400},
		{"too large create", "POST", "/things", tok, big, 413},
		{"too large update", "PUT", "/things/" + th.ID, tok, big, 413},
		{"malformed update", "PUT", "/things/" + th.ID, tok, `nope`, 400},
		{"malformed channel update", "PUT", "/channels/" + ch.ID, tok, `{"name":1}`, 400},
		{"bad offset", "GET", "/things?offset=-1", tok, "", 400},
		{"bad limit", "GET", "/channels?limit=0", tok, "", 400},
		{"limit too big", "GET", "/things?limit=101", tok, "", 400},
		{"limit not a number", "GET", "/things?limit=ten", tok, "", 400},
		{"unknown thing", "GET", "/things/" + unknown, tok, "", 404},
		{"malformed id", "GET", "/things/not-an-id", tok, "", 404},
		{"wildcard id", "GET", "/things/*", tok, "", 404},
		{"unknown channel", "GET", "/channels/" + unknown, tok, "", 404},
		{"update unknown", "PUT", "/things/" + unknown, tok, `{"name":"x"}`, 404},
		{"update unknown channel", "PUT", "/channels/" + unknown, tok, `{"name":"x"}`, 404},
		{"delete unknown", "DELETE", "/things/" + unknown, tok, "", 404},
		{"delete unknown channel", "DELETE", "/channels/" + unknown, tok, "", 404},
		{"others' thing", "GET", "/things/" + evesThing.ID, tok, "", 404},
		{"update others' thing", "PUT", "/things/" + evesThing.ID, tok, `{"name":"mine"}`, 404},
		{"delete others' thing", "DELETE", "/things/" + evesThing.ID, tok, "", 404},
		{"others see my channel", "GET", "/channels/" + ch.ID, eve, "", 404},
		{"others delete my channel", "DELETE", "/channels/" + ch.ID, eve, "", 404},
		{"connect others' thing", "PUT", "/channels/" + ch.ID + "/things/" + evesThing.ID, tok, "", 404},
		{"connect to others' channel", "PUT", "/channels/" + ch.ID + "/things/" + evesThing.ID, eve, "", 404},
		{"connect unknown thing", "PUT", "/channels/" + ch.ID + "/things/" + unknown, tok, "", 404},
		{"connect unknown channel", "PUT", "/channels/" + unknown + "/things/" + th.ID, tok, "", 404},
		{"disconnect not connected", "DELETE", "/channels/" + ch.ID + "/things/" + th.ID, tok, "", 404},
		{"others list connections", "GET", "/channels/" + ch.ID + "/things", eve, "", 404},
		{"others list thing channels", "GET", "/things/" + th.ID + "/channels", eve, "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.token, tt.body)
			if r.code != tt.want {
				t.Fatalf("%s %s %.40q = %d %s, want %d", tt.method, tt.path, tt.body, r.code, r.body, tt.want)
			}
			if !strings.Contains(r.body, `"error"`) {
				t.Errorf("%s %s body = %s, want an error object", tt.method, tt.path, r.body)
			}
			if tt.want == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", tt.method, tt.path)
			}
		})
	}
	if diff := cmp.Diff(before, e.events()); diff != "" {
		t.Errorf("refused requests appended events (-want +got):\n%s", diff)
	}
	var got thing
	e.must(200, "GET", "/things/"+th.ID, tok, "", &got)
	if diff := cmp.Diff(th, got); diff != "" {
		t.Errorf("after the refusals, the thing changed (-want +got):\n%s", diff)
	}
	var list struct{ Total int }
	e.must(200, "GET", "/things", tok, "", &list)
	if list.Total != 1 {
		t.Errorf("after the refusals, ada has %d things, want 1", list.Total)
	}
	got = thing{}
	e.must(200, "GET", "/things/"+evesThing.ID, eve, "", &got)
	if got.Name != "eve's" {
		t.Errorf("after the refusals, eve's thing is %+v, want unchanged", got)
	}
}

// TestListsLeaveNoConsumers: listing uses a short-lived consumer on the bucket's stream and
// removes it (the server allows 1000 per stream).
func TestListsLeaveNoConsumers(t *testing.T) {
	e := newEnv(t, bustest.New(t))
	tok := e.user("ada@example.com")
	var th thing
	e.must(201, "POST", "/things", tok, `{"name":"a"}`, &th)
	var ch channel
	e.must(201, "POST", "/channels", tok, `{"name":"c"}`, &ch)
	for range 5 {
		e.must(200, "GET", "/things", tok, "", nil)
		e.must(200, "GET", "/channels", tok, "", nil)
		e.must(200, "GET", "/channels/"+ch.ID+"/things", tok, "", nil)
		e.must(200, "GET", "/things/"+th.ID+"/channels", tok, "", nil)
	}
	ctx := context.Background()
	for _, name := range []string{"KV_" + bus.ThingsBucket, "KV_" + bus.ChannelsBucket, "KV_" + bus.ConnectionsBucket} {
		s, err := e.bus.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers != 0 {
			t.Errorf("after the lists, %s has %d consumers, want 0", name, info.State.Consumers)
		}
	}
}
