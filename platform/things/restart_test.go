package things_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// TestRestart stops everything and reopens the data directory: users, tokens, things,
// channels, connections and events are all still there.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	b := bustest.OpenDir(t, dir)
	e := newEnv(t, b)
	tok := e.user("ada@example.com")
	var th thing
	var ch channel
	e.must(201, "POST", "/things", tok, `{"name":"lamp","metadata":{"k":"v"}}`, &th)
	e.must(201, "POST", "/channels", tok, `{"name":"c"}`, &ch)
	e.must(200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok, "", nil)
	eventsBefore := e.events()
	if err := b.Close(); err != nil {
		t.Fatalf("closing the bus: %v", err)
	}

	e = newEnv(t, bustest.OpenDir(t, dir))
	serveAccess(t, e)
	var got thing
	e.must(200, "GET", "/things/"+th.ID, tok, "", &got) // the old token still works
	if diff := cmp.Diff(th, got); diff != "" {
		t.Errorf("after restart, GET /things/id (-want +got):\n%s", diff)
	}
	var gotCh channel
	e.must(200, "GET", "/channels/"+ch.ID, tok, "", &gotCh)
	if gotCh.Name != "c" {
		t.Errorf("after restart, channel = %+v, want name c", gotCh)
	}
	resp, err := access.Ask(context.Background(), e.bus.Conn, &thingsv1.AccessRequest{Key: th.Key, Channel: ch.ID, Action: pub})
	if err != nil || resp.Status != allowed {
		t.Errorf("after restart, access of the connected thing = %v, %v, want allowed", resp, err)
	}
	e.must(409, "POST", "/users", "", `{"email":"ada@example.com","password":"password1"}`, nil)
	if diff := cmp.Diff(eventsBefore, e.events()); diff != "" {
		t.Errorf("after restart, events.things (-want +got):\n%s", diff)
	}
}
