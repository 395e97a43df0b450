package bootstrap_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/bootstrap"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/things"
	"github.com/cairn-iot/cairn/platform/users"
)

// until reads the config at path until ok accepts it; the deadline bounds it.
func (p *platform) until(owner, path string, ok func(code int, c config) bool) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var c config
		code, body := p.send("GET", path, owner, "")
		if code == 200 {
			if err := json.Unmarshal(body, &c); err != nil {
				p.t.Fatalf("GET %s: %s: %v", path, body, err)
			}
		}
		if ok(code, c) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("GET %s = %d %+v: not the expected change within 20s", path, code, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowsThings: the configs follow the things service's events: a renamed channel is
// renamed in them, a removed channel leaves them, a removed thing takes its config along
// and frees its external id.
func TestFollowsThings(t *testing.T) {
	p := allInOne(t)
	owner := p.user("owner@example.com")
	ch1, ch2 := p.channel(owner, "temp"), p.channel(owner, "cmd")
	var c config
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw","external_key":"k","channels":["`+ch1+`","`+ch2+`"]}`, &c)
	path := "/things/configs/" + c.ThingID

	p.do(200, "PUT", "/channels/"+ch2, owner, `{"name":"commands","metadata":{"v":2}}`, nil)
	p.until(owner, path, func(_ int, c config) bool { return len(c.Channels) == 2 && c.Channels[1].Name == "commands" })
	p.do(204, "DELETE", "/channels/"+ch1, owner, "", nil)
	p.until(owner, path, func(_ int, c config) bool { return len(c.Channels) == 1 && c.Channels[0].ID == ch2 })
	p.do(204, "DELETE", "/things/"+c.ThingID, owner, "", nil)
	p.until(owner, path, func(code int, _ config) bool { return code == 404 })
	// The config goes before its external id's index; the event follows both.
	for deadline := time.Now().Add(20 * time.Second); len(p.bootstrapEvents()) < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no config.remove event within 20s of the config's removal: %v", p.bootstrapEvents())
		}
	}
	p.do(404, "GET", "/things/bootstrap/gw", "Thing k", "", nil)
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw","external_key":"k"}`, nil)

	got := p.bootstrapEvents()
	if len(got) != 4 {
		t.Fatalf("events.bootstrap = %v, want create, update_connections, remove, create", got)
	}
	if g := got[1]; g["operation"] != "thing.update_connections" || g["thing_id"] != c.ThingID || g["channels"] != ch2 {
		t.Errorf("after the channel's removal: %v, want thing.update_connections of %s with channels %s", g, c.ThingID, ch2)
	}
	if g := got[2]; g["operation"] != "config.remove" || g["thing_id"] != c.ThingID {
		t.Errorf("after the thing's removal: %v, want config.remove of %s", g, c.ThingID)
	}
}

// TestStandalone: the bootstrap binary's way, in its own process on the same bus, calling
// the things service of another process by URL; an unreachable things service is a 502.
func TestStandalone(t *testing.T) {
	b := bustest.New(t)
	thingsBase := start(t, b, users.Component(users.WithCost(bcrypt.MinCost)), things.Component())
	p := &platform{t: t, bus: b, base: start(t, b, bootstrap.Component(bootstrap.WithThingsURL(thingsBase), bootstrap.WithCost(bcrypt.MinCost)))}
	users := &platform{t: t, bus: b, base: thingsBase}
	owner := users.user("owner@example.com")
	ch := users.channel(owner, "temp")
	var c config
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw","external_key":"k","channels":["`+ch+`"]}`, &c)
	users.do(200, "GET", "/things/"+c.ThingID, owner, "", nil)
	p.do(200, "PUT", "/things/state/"+c.ThingID, owner, `{"state":1}`, nil)
	var conns struct{ Total int }
	users.do(200, "GET", "/things/"+c.ThingID+"/channels", owner, "", &conns)
	if conns.Total != 1 {
		t.Errorf("the active thing has %d channels in the things service, want 1", conns.Total)
	}

	down := &platform{t: t, bus: b, base: start(t, b, bootstrap.Component(bootstrap.WithThingsURL("http://127.0.0.1:1"), bootstrap.WithCost(bcrypt.MinCost)))}
	code, body := down.send("POST", "/things/configs", owner, `{"external_id":"gw2","external_key":"k"}`)
	if code != 502 || !strings.Contains(string(body), "CAIRN_THINGS_URL") {
		t.Errorf("with the things service unreachable: %d %s, want 502 naming CAIRN_THINGS_URL", code, body)
	}
}
