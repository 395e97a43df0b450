package platform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/events"
)

// gateway is a gateway's story through the bootstrap service: its owner creates channels and
// a config; the gateway fetches its identity with its external key; it publishes over MQTT
// with the returned credentials only while active; the owner changes the config; removals in
// the things service propagate; the six kinds of events.bootstrap are read back with exactly
// their fields.
func gateway(t *testing.T, e endpoints, r result) {
	t.Helper()
	newChannel := func(name string) string {
		var ch struct{ ID string }
		must(t, 201, "POST", e.things+"/channels", r.bearer, `{"name":"`+name+`"}`, &ch)
		return ch.ID
	}
	ch1, ch2 := newChannel("gateways"), newChannel("spare")
	const ext = "aa:bb:cc:dd:ee:ff"
	var cfg struct {
		ThingID string `json:"thing_id"`
	}
	must(t, 201, "POST", e.bootstrap+"/things/configs", r.bearer,
		`{"external_id":"`+ext+`","external_key":"factory-secret","name":"gw","channels":["`+ch1+`"],"content":"interval=5"}`, &cfg)
	must(t, 409, "POST", e.bootstrap+"/things/configs", r.bearer, `{"external_id":"`+ext+`","external_key":"k"}`, nil)
	must(t, 400, "POST", e.bootstrap+"/things/configs", r.bearer,
		`{"external_id":"big","external_key":"k","content":"`+strings.Repeat("x", 64<<10+1)+`"}`, nil)
	must(t, 401, "GET", e.bootstrap+"/things/bootstrap/"+ext, "Thing wrong", "", nil)
	var boot struct {
		ThingID  string `json:"thing_id"`
		ThingKey string `json:"thing_key"`
		Channels []struct{ ID, Name string }
		Content  string
	}
	must(t, 200, "GET", e.bootstrap+"/things/bootstrap/"+ext, "Thing factory-secret", "", &boot)
	if boot.ThingID != cfg.ThingID || boot.ThingKey == "" || len(boot.Channels) != 1 || boot.Channels[0].ID != ch1 ||
		boot.Channels[0].Name != "gateways" || boot.Content != "interval=5" {
		t.Fatalf("bootstrap answer %+v, want thing %s with a key, channel %s named gateways and the content", boot, cfg.ThingID, ch1)
	}

	topic := "channels/" + ch1 + "/messages"
	publish := func() string {
		// mosquitto_pub exits 0 on a negative PUBACK; it prints the reason code.
		out, err := mqttPublish(e.mqtt, boot.ThingID, boot.ThingKey, topic, "reading", "-q", "1", "-V", "5")
		if err == nil && strings.TrimSpace(out) == "" {
			return "accepted"
		}
		return out
	}
	// until publishes until the outcome contains want: the adapters' access cache follows the
	// things events, so a change shows within moments; the deadline bounds it.
	until := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for got := publish(); !strings.Contains(got, want); got = publish() {
			if time.Now().After(deadline) {
				t.Fatalf("mosquitto_pub as the gateway: %q, want %q within 20s", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := publish(); !strings.Contains(got, "Not authorized") {
		t.Fatalf("mosquitto_pub before activation: %q, want Not authorized", got)
	}
	state := e.bootstrap + "/things/state/" + cfg.ThingID
	must(t, 200, "PUT", state, r.bearer, `{"state":1}`, nil)
	until("accepted")
	must(t, 200, "PUT", state, r.bearer, `{"state":0}`, nil)
	until("Not authorized")

	must(t, 200, "PUT", e.bootstrap+"/things/configs/"+cfg.ThingID, r.bearer, `{"name":"gw-b","content":"interval=10"}`, nil)
	must(t, 200, "PUT", e.bootstrap+"/things/configs/connections/"+cfg.ThingID, r.bearer, `{"channels":["`+ch1+`","`+ch2+`"]}`, nil)
	must(t, 204, "DELETE", e.things+"/channels/"+ch2, r.bearer, "", nil)
	must(t, 204, "DELETE", e.things+"/things/"+cfg.ThingID, r.bearer, "", nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, _ := call(t, "GET", e.bootstrap+"/things/configs/"+cfg.ThingID, r.bearer, nil)
		if code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the config of a removed thing: GET = %d, want 404 within 20s", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, 404, "GET", e.bootstrap+"/things/bootstrap/"+ext, "Thing factory-secret", "", nil)
	checkBootstrapEvents(t, e, cfg.ThingID, ext, ch1, ch2)
}

// checkBootstrapEvents reads events.bootstrap with a plain NATS client: every kind, with
// exactly the fields that apply and a timestamp in Unix seconds.
func checkBootstrapEvents(t *testing.T, e endpoints, thing, ext, ch1, ch2 string) {
	t.Helper()
	nc, err := nats.Connect(e.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs, err := events.All(ctx, js, events.BootstrapSubject)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	for _, ev := range evs {
		if ts := ev.Fields["timestamp"]; len(ts) != 10 || strings.Trim(ts, "0123456789") != "" {
			t.Errorf("event %v: timestamp is not Unix seconds", ev.Fields)
		}
		delete(ev.Fields, "timestamp")
		got = append(got, ev.Fields)
	}
	owner := ""
	if len(got) > 0 {
		owner = got[0]["owner"]
	}
	want := []map[string]string{
		{"operation": "config.create", "thing_id": thing, "owner": owner, "name": "gw", "channels": ch1, "external_id": ext, "content": "interval=5"},
		{"operation": "thing.bootstrap", "external_id": ext, "success": "0"},
		{"operation": "thing.bootstrap", "external_id": ext, "success": "1"},
		{"operation": "thing.state_change", "thing_id": thing, "state": "1"},
		{"operation": "thing.state_change", "thing_id": thing, "state": "0"},
		{"operation": "config.update", "thing_id": thing, "name": "gw-b", "content": "interval=10"},
		{"operation": "thing.update_connections", "thing_id": thing, "channels": ch1 + "," + ch2},
		{"operation": "thing.update_connections", "thing_id": thing, "channels": ch1},
		{"operation": "config.remove", "thing_id": thing},
	}
	if diff := cmp.Diff(want, got); diff != "" || owner == "" {
		t.Errorf("events.bootstrap (-want +got):\n%s", diff)
	}
}
