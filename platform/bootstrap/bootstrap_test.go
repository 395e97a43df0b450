package bootstrap_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// config is a config as the API shows it.
type config struct {
	ThingID    string    `json:"thing_id"`
	ThingKey   string    `json:"thing_key"`
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name"`
	Content    string    `json:"content"`
	Channels   []channel `json:"channels"`
	State      int       `json:"state"`
	CACert     string    `json:"ca_cert"`
}

type channel struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata"`
}

type page struct {
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
	Configs []config `json:"configs"`
}

// TestConfigs: the owner's configs API end to end, with the things service creating and
// connecting the thing, and the refusals.
func TestConfigs(t *testing.T) {
	p := allInOne(t)
	owner, other := p.user("owner@example.com"), p.user("other@example.com")
	ch1, ch2, foreign := p.channel(owner, "temp"), p.channel(owner, "cmd"), p.channel(other, "theirs")

	body := `{"external_id":"aa:bb:cc:dd:ee:ff","external_key":"factory-secret","name":"gw-1",` +
		`"channels":["` + ch1 + `","` + ch2 + `"],"content":"{\"interval\":5}","ca_cert":"PEM"}`
	req, _ := http.NewRequest("POST", p.base+"/things/configs", strings.NewReader(body))
	req.Header.Set("Authorization", owner)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 201 || !strings.HasPrefix(loc, "/things/configs/") {
		t.Fatalf("POST /things/configs = %d Location %q, want 201 /things/configs/<thing id>", resp.StatusCode, loc)
	}
	var gw config
	p.do(200, "GET", loc, owner, "", &gw)
	md := map[string]any{"unit": "C"}
	want := config{ThingID: strings.TrimPrefix(loc, "/things/configs/"), ThingKey: gw.ThingKey, ExternalID: "aa:bb:cc:dd:ee:ff",
		Name: "gw-1", Content: `{"interval":5}`, CACert: "PEM",
		Channels: []channel{{ch1, "temp", md}, {ch2, "cmd", md}}}
	if diff := cmp.Diff(want, gw); diff != "" || gw.ThingKey == "" {
		t.Errorf("GET %s (-want +got):\n%s", loc, diff)
	}
	var th struct{ Name, Key string }
	p.do(200, "GET", "/things/"+gw.ThingID, owner, "", &th)
	if th.Name != "gw-1" || th.Key != gw.ThingKey {
		t.Errorf("the things service has thing %+v, want the config's name gw-1 and key", th)
	}
	p.do(404, "GET", loc, other, "", nil)

	// Refusals change nothing.
	p.do(409, "POST", "/things/configs", owner, body, nil)
	p.do(404, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"k","channels":["`+foreign+`"]}`, nil)
	p.do(400, "POST", "/things/configs", owner, `{"external_id":"","external_key":"k"}`, nil)
	p.do(400, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"`+strings.Repeat("k", 73)+`"}`, nil)
	p.do(400, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"k","channels":["`+ch1+`","`+ch1+`"]}`, nil)
	p.do(401, "POST", "/things/configs", "", body, nil)
	p.do(400, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"k","content":"`+strings.Repeat("c", 64<<10+1)+`"}`, nil)
	p.do(400, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"k","ca_cert":"`+strings.Repeat("c", 16<<10+1)+`"}`, nil)
	p.do(413, "POST", "/things/configs", owner, `{"external_id":"x","external_key":"k","content":"`+strings.Repeat("c", 256<<10)+`"}`, nil)

	// With a thing of the owner's: its key. A thing has one config; the refused external id
	// stays free.
	var t2 struct{ ID, Key string }
	p.do(201, "POST", "/things", owner, `{"name":"existing"}`, &t2)
	var gw2 config
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw-2","external_key":"k2","thing_id":"`+t2.ID+`","name":"second"}`, &gw2)
	if gw2.ThingID != t2.ID || gw2.ThingKey != t2.Key || gw2.Channels == nil {
		t.Errorf("config for an existing thing = %+v, want thing %s with its key and channels []", gw2, t2.ID)
	}
	p.do(409, "POST", "/things/configs", owner, `{"external_id":"gw-3","external_key":"k","thing_id":"`+t2.ID+`"}`, nil)
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw-3","external_key":"k","name":"third"}`, nil)
	p.do(404, "POST", "/things/configs", other, `{"external_id":"gw-4","external_key":"k","thing_id":"`+t2.ID+`"}`, nil)

	// Paging and filters.
	var pg page
	p.do(200, "GET", "/things/configs?offset=1&limit=1", owner, "", &pg)
	if pg.Total != 3 || len(pg.Configs) != 1 || pg.Configs[0].ThingID != t2.ID && pg.Configs[0].Name == "" {
		t.Errorf("page 2 of 1 = %+v, want total 3 and one config", pg)
	}
	p.do(200, "GET", "/things/configs?name=SECOND", owner, "", &pg)
	if pg.Total != 1 || pg.Configs[0].ExternalID != "gw-2" {
		t.Errorf("name=SECOND = %+v, want gw-2 only", pg)
	}
	p.do(200, "GET", "/things/configs?state=1", owner, "", &pg)
	if pg.Total != 0 || pg.Configs == nil {
		t.Errorf("state=1 = %+v, want none (configs start inactive) and configs []", pg)
	}
	p.do(200, "GET", "/things/configs", other, "", &pg)
	if pg.Total != 0 {
		t.Errorf("another user's list = %+v, want none", pg)
	}
	p.do(400, "GET", "/things/configs?limit=101", owner, "", nil)
	p.do(400, "GET", "/things/configs?state=2", owner, "", nil)

	// Update, remove.
	var upd config
	p.do(200, "PUT", loc, owner, `{"name":"gw-1b","content":"v2"}`, &upd)
	if upd.Name != "gw-1b" || upd.Content != "v2" || len(upd.Channels) != 2 {
		t.Errorf("PUT %s = %+v, want name gw-1b, content v2, channels kept", loc, upd)
	}
	p.do(400, "PUT", loc, owner, `{"name":1}`, nil)
	p.do(400, "PUT", loc, owner, `{"content":"`+strings.Repeat("c", 64<<10+1)+`"}`, nil)
	p.do(404, "PUT", loc, other, `{"name":"x"}`, nil)
	p.do(204, "DELETE", "/things/configs/"+gw2.ThingID, owner, "", nil)
	p.do(404, "GET", "/things/configs/"+gw2.ThingID, owner, "", nil)
	p.do(200, "GET", "/things/"+gw2.ThingID, owner, "", nil) // the thing stays

	got := p.bootstrapEvents()
	wantEvents := []map[string]string{
		{"operation": "config.create", "thing_id": gw.ThingID, "owner": got[0]["owner"], "name": "gw-1",
			"channels": ch1 + "," + ch2, "external_id": "aa:bb:cc:dd:ee:ff", "content": `{"interval":5}`},
		{"operation": "config.create", "thing_id": t2.ID, "owner": got[0]["owner"], "name": "second", "external_id": "gw-2"},
		{"operation": "config.create", "thing_id": got[2]["thing_id"], "owner": got[0]["owner"], "name": "third", "external_id": "gw-3"},
		{"operation": "config.update", "thing_id": gw.ThingID, "name": "gw-1b", "content": "v2"},
		{"operation": "config.remove", "thing_id": t2.ID},
	}
	if diff := cmp.Diff(wantEvents, got); diff != "" || got[0]["owner"] == "" {
		t.Errorf("events.bootstrap (-want +got):\n%s", diff)
	}
}
