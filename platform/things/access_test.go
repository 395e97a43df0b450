package things_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// serveAccess runs the access responder until the test ends.
func serveAccess(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := e.svc.ServeAccess(ctx); err != nil {
			t.Errorf("ServeAccess = %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Wait until the subscription is in place: a request is answered.
	for i := 0; ; i++ {
		_, err := access.Ask(context.Background(), e.bus.Conn, &thingsv1.AccessRequest{})
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) || i == 500 {
			t.Fatalf("the access responder does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const (
	allowed = thingsv1.AccessResponse_STATUS_ALLOWED
	unauth  = thingsv1.AccessResponse_STATUS_UNAUTHENTICATED
	forbid  = thingsv1.AccessResponse_STATUS_FORBIDDEN
	missing = thingsv1.AccessResponse_STATUS_NOT_FOUND
	invalid = thingsv1.AccessResponse_STATUS_INVALID
	pub     = thingsv1.Action_ACTION_PUBLISH
	sub     = thingsv1.Action_ACTION_SUBSCRIBE
	read    = thingsv1.Action_ACTION_READ
)

func TestAccess(t *testing.T) {
	e := newEnv(t, bustest.New(t))
	serveAccess(t, e)
	ada, eve := e.user("ada@example.com"), e.user("eve@example.com")
	adaID, eveID := userID(t, e, ada), userID(t, e, eve)
	var conn, loose, evesThing thing
	var ch, other, evesCh channel
	e.must(201, "POST", "/things", ada, `{"name":"connected"}`, &conn)
	e.must(201, "POST", "/things", ada, `{"name":"not connected"}`, &loose)
	e.must(201, "POST", "/things", eve, `{"name":"eve's"}`, &evesThing)
	e.must(201, "POST", "/channels", ada, `{"name":"c"}`, &ch)
	e.must(201, "POST", "/channels", ada, `{"name":"other"}`, &other)
	e.must(201, "POST", "/channels", eve, `{"name":"eve's"}`, &evesCh)
	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+conn.ID, ada, "", nil)
	e.must(200, "PUT", "/channels/"+evesCh.ID+"/things/"+evesThing.ID, eve, "", nil)
	var removed thing
	e.must(201, "POST", "/things", ada, `{"name":"removed"}`, &removed)
	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+removed.ID, ada, "", nil)
	e.must(204, "DELETE", "/things/"+removed.ID, ada, "", nil)
	unknown := "0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b"

	tests := []struct {
		name string
		req  *thingsv1.AccessRequest
		want *thingsv1.AccessResponse
	}{
		{"publish connected", &thingsv1.AccessRequest{Key: conn.Key, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"subscribe connected", &thingsv1.AccessRequest{Key: conn.Key, Channel: ch.ID, Action: sub},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"read connected thing", &thingsv1.AccessRequest{Key: conn.Key, Channel: ch.ID, Action: read},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"publish with matching thing id", &thingsv1.AccessRequest{Key: conn.Key, ThingId: conn.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"read owner token", &thingsv1.AccessRequest{Token: ada, Channel: ch.ID, Action: read},
			&thingsv1.AccessResponse{Status: allowed, UserId: adaID}},
		{"read owner token unconnected channel", &thingsv1.AccessRequest{Token: ada, Channel: other.ID, Action: read},
			&thingsv1.AccessResponse{Status: allowed, UserId: adaID}},
		{"other thing id", &thingsv1.AccessRequest{Key: conn.Key, ThingId: loose.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"unknown key", &thingsv1.AccessRequest{Key: "nope", Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"removed thing's key", &thingsv1.AccessRequest{Key: removed.Key, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"unknown token", &thingsv1.AccessRequest{Token: "nope", Channel: ch.ID, Action: read},
			&thingsv1.AccessResponse{Status: unauth}},
		{"neither key nor token", &thingsv1.AccessRequest{Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"both key and token", &thingsv1.AccessRequest{Key: conn.Key, Token: ada, Channel: ch.ID, Action: read},
			&thingsv1.AccessResponse{Status: unauth}},
		{"not connected", &thingsv1.AccessRequest{Key: loose.Key, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: forbid, ThingId: loose.ID}},
		{"not connected read", &thingsv1.AccessRequest{Key: loose.Key, Channel: ch.ID, Action: read},
			&thingsv1.AccessResponse{Status: forbid, ThingId: loose.ID}},
		{"token cannot publish", &thingsv1.AccessRequest{Token: ada, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: forbid, UserId: adaID}},
		{"token cannot subscribe", &thingsv1.AccessRequest{Token: ada, Channel: ch.ID, Action: sub},
			&thingsv1.AccessResponse{Status: forbid, UserId: adaID}},
		{"unknown channel", &thingsv1.AccessRequest{Key: conn.Key, Channel: unknown, Action: pub},
			&thingsv1.AccessResponse{Status: missing, ThingId: conn.ID}},
		{"malformed channel", &thingsv1.AccessRequest{Key: conn.Key, Channel: "a.*", Action: pub},
			&thingsv1.AccessResponse{Status: missing, ThingId: conn.ID}},
		{"others' channel", &thingsv1.AccessRequest{Key: conn.Key, Channel: evesCh.ID, Action: pub},
			&thingsv1.AccessResponse{Status: missing, ThingId: conn.ID}},
		{"others' channel by token", &thingsv1.AccessRequest{Token: ada, Channel: evesCh.ID, Action: read},
			&thingsv1.AccessResponse{Status: missing, UserId: adaID}},
		{"eve reads her own", &thingsv1.AccessRequest{Token: eve, Channel: evesCh.ID, Action: read},
			&thingsv1.AccessResponse{Status: allowed, UserId: eveID}},
		{"no action", &thingsv1.AccessRequest{Key: conn.Key, Channel: ch.ID},
			&thingsv1.AccessResponse{Status: invalid}},
		{"unknown action", &thingsv1.AccessRequest{Key: conn.Key, Channel: ch.ID, Action: 42},
			&thingsv1.AccessResponse{Status: invalid}},
		{"no channel", &thingsv1.AccessRequest{Key: conn.Key, Action: pub},
			&thingsv1.AccessResponse{Status: invalid}},
		{"certificate, connected", &thingsv1.AccessRequest{VouchedThingId: conn.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"certificate with its thing id", &thingsv1.AccessRequest{VouchedThingId: conn.ID, ThingId: conn.ID, Channel: ch.ID, Action: sub},
			&thingsv1.AccessResponse{Status: allowed, ThingId: conn.ID}},
		{"certificate, not connected", &thingsv1.AccessRequest{VouchedThingId: loose.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: forbid, ThingId: loose.ID}},
		{"certificate of another thing than the username", &thingsv1.AccessRequest{VouchedThingId: loose.ID, ThingId: conn.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"certificate of no thing", &thingsv1.AccessRequest{VouchedThingId: unknown, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"certificate naming a wildcard", &thingsv1.AccessRequest{VouchedThingId: "*", Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"certificate and key", &thingsv1.AccessRequest{VouchedThingId: conn.ID, Key: conn.Key, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
		{"removed thing's certificate", &thingsv1.AccessRequest{VouchedThingId: removed.ID, Channel: ch.ID, Action: pub},
			&thingsv1.AccessResponse{Status: unauth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := access.Ask(context.Background(), e.bus.Conn, tt.req)
			if err != nil {
				t.Fatalf("Ask(%v) = %v", tt.req, err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("Ask(%v) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}

	// A body that is not an AccessRequest is answered STATUS_INVALID.
	msg, err := e.bus.Conn.Request(bus.AccessSubject, []byte{0xff, 0xff, 0xff}, access.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	var resp thingsv1.AccessResponse
	if err := proto.Unmarshal(msg.Data, &resp); err != nil || resp.Status != invalid {
		t.Errorf("garbage request answered %v, %v, want STATUS_INVALID", &resp, err)
	}
}

// TestAccessQueueGroup runs two things services on one bus: every request gets exactly one
// answer (the queue group), and both instances share the state.
func TestAccessQueueGroup(t *testing.T) {
	b := bustest.New(t)
	e1, e2 := newEnv(t, b), newEnv(t, b)
	serveAccess(t, e1)
	serveAccess(t, e2)
	tok := e1.user("ada@example.com")
	var th thing
	var ch channel
	e1.must(201, "POST", "/things", tok, `{"name":"t"}`, &th)
	e2.must(201, "POST", "/channels", tok, `{"name":"c"}`, &ch)
	e2.must(200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil)
	for i := range 20 {
		resp, err := access.Ask(context.Background(), b.Conn, &thingsv1.AccessRequest{Key: th.Key, Channel: ch.ID, Action: pub})
		if err != nil || resp.Status != allowed {
			t.Fatalf("request %d = %v, %v, want allowed", i, resp, err)
		}
	}
	sub, err := b.Conn.SubscribeSync("_INBOX.count.*")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := proto.Marshal(&thingsv1.AccessRequest{Key: th.Key, Channel: ch.ID, Action: pub})
	if err := b.Conn.PublishRequest(bus.AccessSubject, "_INBOX.count.1", req); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(access.Timeout); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if err := b.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	// A second answer, if any, would be on its way already; the queue group sends one.
	if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
		t.Errorf("a second answer arrived: %q", m.Data)
	}
}
