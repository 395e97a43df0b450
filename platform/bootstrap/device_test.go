package bootstrap_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bootstrap"
)

// gateway is what GET /things/bootstrap answers.
type gateway struct {
	ThingID  string    `json:"thing_id"`
	ThingKey string    `json:"thing_key"`
	Channels []channel `json:"channels"`
	Content  string    `json:"content"`
}

// TestBootstrapAndState: a gateway fetches its identity and channels with its external key;
// it publishes only while its config is active; changing the channels of an active config
// moves its connections; every step is an event.
func TestBootstrapAndState(t *testing.T) {
	p := allInOne(t)
	owner := p.user("owner@example.com")
	ch1, ch2 := p.channel(owner, "temp"), p.channel(owner, "cmd")
	const ext = "aa:bb:cc:dd:ee:ff"
	var c config
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"`+ext+`","external_key":"factory-secret","channels":["`+ch1+`"],"content":"hello"}`, &c)

	path := "/things/bootstrap/" + url.PathEscape(ext)
	var gw gateway
	p.do(200, "GET", path, "Thing factory-secret", "", &gw)
	md := map[string]any{"unit": "C"}
	if diff := cmp.Diff(gateway{ThingID: c.ThingID, ThingKey: c.ThingKey, Channels: []channel{{ch1, "temp", md}}, Content: "hello"}, gw); diff != "" {
		t.Errorf("GET %s (-want +got):\n%s", path, diff)
	}
	p.do(401, "GET", path, "Thing wrong", "", nil)
	p.do(401, "GET", path, "", "", nil)
	p.do(404, "GET", "/things/bootstrap/unknown", "Thing factory-secret", "", nil)

	// Inactive: not connected, so the thing may not publish.
	if got := p.publish(gw.ThingKey, ch1); got != 403 {
		t.Fatalf("publishing while inactive = %d, want 403", got)
	}
	state := "/things/state/" + c.ThingID
	p.do(200, "PUT", state, owner, `{"state":1}`, nil)
	p.eventually(gw.ThingKey, ch1, 202)
	p.do(200, "PUT", state, owner, `{"state":1}`, nil) // again: no change, no event
	p.do(200, "PUT", "/things/configs/connections/"+c.ThingID, owner, `{"channels":["`+ch2+`"]}`, nil)
	p.eventually(gw.ThingKey, ch1, 403)
	p.eventually(gw.ThingKey, ch2, 202)
	p.do(200, "PUT", state, owner, `{"state":0}`, nil)
	p.eventually(gw.ThingKey, ch2, 403)
	var back config
	p.do(200, "PUT", "/things/configs/connections/"+c.ThingID, owner, `{"channels":["`+ch1+`","`+ch2+`"]}`, &back)
	if back.State != 0 || len(back.Channels) != 2 {
		t.Errorf("connections of an inactive config = %+v, want state 0 with both channels", back)
	}
	if got := p.publish(gw.ThingKey, ch1); got != 403 {
		t.Errorf("publishing after new channels on an inactive config = %d, want 403", got)
	}
	p.do(400, "PUT", state, owner, `{"state":2}`, nil)
	p.do(400, "PUT", state, owner, `{}`, nil)
	p.do(404, "PUT", state, p.user("other@example.com"), `{"state":1}`, nil)

	got := p.bootstrapEvents()
	want := []map[string]string{
		{"operation": "config.create", "thing_id": c.ThingID, "owner": got[0]["owner"], "channels": ch1, "external_id": ext, "content": "hello"},
		{"operation": "thing.bootstrap", "external_id": ext, "success": "1"},
		{"operation": "thing.bootstrap", "external_id": ext, "success": "0"},
		{"operation": "thing.state_change", "thing_id": c.ThingID, "state": "1"},
		{"operation": "thing.update_connections", "thing_id": c.ThingID, "channels": ch2},
		{"operation": "thing.state_change", "thing_id": c.ThingID, "state": "0"},
		{"operation": "thing.update_connections", "thing_id": c.ThingID, "channels": ch1 + "," + ch2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events.bootstrap (-want +got):\n%s", diff)
	}
}

// TestSecureBootstrap: with a deployment key, the gateway sends its sealed external key and
// gets the same answer sealed for its external id; a key sealed for another id is refused;
// without a deployment key the path says it is off.
func TestSecureBootstrap(t *testing.T) {
	key := make([]byte, bootstrap.KeySize)
	rand.Read(key)
	p := allInOne(t, bootstrap.WithEncryptionKey(key))
	owner := p.user("owner@example.com")
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw-1","external_key":"secret","content":"cfg"}`, nil)
	p.do(201, "POST", "/things/configs", owner, `{"external_id":"gw-2","external_key":"secret","content":"cfg2"}`, nil)
	var plain gateway
	p.do(200, "GET", "/things/bootstrap/gw-1", "Thing secret", "", &plain)

	sealed, err := bootstrap.Seal(key, []byte("secret"), "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	code, body := p.send("GET", "/things/bootstrap/secure/gw-1", "Thing "+hex.EncodeToString(sealed), "")
	if code != 200 || bytes.Contains(body, []byte(plain.ThingKey)) {
		t.Fatalf("secure bootstrap = %d %q, want 200 and no thing key in the clear", code, body)
	}
	opened, err := bootstrap.Open(key, body, "gw-1")
	if err != nil {
		t.Fatalf("opening the answer: %v", err)
	}
	var got gateway
	if err := json.Unmarshal(opened, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, got); diff != "" {
		t.Errorf("secure answer differs from the plain one (-plain +secure):\n%s", diff)
	}
	if _, err := bootstrap.Open(key, body, "gw-2"); err == nil {
		t.Error("the answer for gw-1 opened as gw-2's, want an error")
	}
	p.do(401, "GET", "/things/bootstrap/secure/gw-2", "Thing "+hex.EncodeToString(sealed), "", nil)
	p.do(401, "GET", "/things/bootstrap/secure/gw-1", "Thing secret", "", nil)
	other, _ := bootstrap.Seal(key, []byte("wrong"), "gw-1")
	p.do(401, "GET", "/things/bootstrap/secure/gw-1", "Thing "+hex.EncodeToString(other), "", nil)

	off := allInOne(t)
	off.do(501, "GET", "/things/bootstrap/secure/gw-1", "Thing "+hex.EncodeToString(sealed), "", nil)
}

func TestKeyFlag(t *testing.T) {
	var k bootstrap.KeyFlag
	if err := k.Set("00112233"); err == nil {
		t.Error("Set(8 hex digits) = nil, want an error naming 64")
	}
	if err := k.Set(string(bytes.Repeat([]byte("zz"), 32))); err == nil {
		t.Error("Set(non-hex) = nil, want an error")
	}
	if err := k.Set(hex.EncodeToString(make([]byte, 32))); err != nil || len(k) != 32 {
		t.Errorf("Set(64 hex digits) = %v with %d bytes, want 32 bytes", err, len(k))
	}
	if k.String() != "" {
		t.Errorf("String() = %q, want the key never shown", k.String())
	}
}
