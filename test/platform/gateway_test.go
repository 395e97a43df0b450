package platform_test

import (
	"testing"
	"time"
)

// gateway is a gateway's first boot through the bootstrap service: its owner creates a config
// on a new channel, the gateway fetches its identity with its external key, and it may publish
// over HTTP only once its config is active.
func gateway(t *testing.T, e endpoints, r result) {
	t.Helper()
	var ch struct{ ID string }
	must(t, 201, "POST", e.things+"/channels", r.bearer, `{"name":"gateways"}`, &ch)
	r.channel = ch.ID
	var cfg struct {
		ThingID string `json:"thing_id"`
	}
	must(t, 201, "POST", e.bootstrap+"/things/configs", r.bearer,
		`{"external_id":"aa:bb:cc:dd:ee:ff","external_key":"factory-secret","name":"gw","channels":["`+r.channel+`"],"content":"interval=5"}`, &cfg)
	must(t, 401, "GET", e.bootstrap+"/things/bootstrap/aa:bb:cc:dd:ee:ff", "Thing wrong", "", nil)
	var boot struct {
		ThingID  string `json:"thing_id"`
		ThingKey string `json:"thing_key"`
		Channels []struct{ ID string }
		Content  string
	}
	must(t, 200, "GET", e.bootstrap+"/things/bootstrap/aa:bb:cc:dd:ee:ff", "Thing factory-secret", "", &boot)
	if boot.ThingID != cfg.ThingID || boot.ThingKey == "" || len(boot.Channels) != 1 || boot.Channels[0].ID != r.channel || boot.Content != "interval=5" {
		t.Fatalf("bootstrap answer %+v, want thing %s with a key, channel %s and the content", boot, cfg.ThingID, r.channel)
	}
	url := e.http + "/channels/" + r.channel + "/messages"
	if code, b, _ := call(t, "POST", url, "Thing "+boot.ThingKey, []byte("boot")); code != 403 {
		t.Fatalf("publishing before activation = %d %s, want 403", code, b)
	}
	must(t, 200, "PUT", e.bootstrap+"/things/state/"+cfg.ThingID, r.bearer, `{"state":1}`, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, b, _ := call(t, "POST", url, "Thing "+boot.ThingKey, []byte("boot"))
		if code == 202 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing after activation = %d %s, want 202 within 20s", code, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
