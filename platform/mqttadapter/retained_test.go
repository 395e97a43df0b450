package mqttadapter_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/test/testenv"
)

// TestRetained: a retained publish is sent on SUBSCRIBE with the retain flag, replaced by the
// next, cleared by an empty one; it survives a restart of the adapter (it lives in
// JetStream) and is shared with another instance on the bus; a thing not connected to the
// channel receives nothing of it.
func TestRetained(t *testing.T) {
	subBin := testenv.LookPath(t, "mosquitto_sub", "mosquitto-clients")
	b := bustest.New(t)
	start := func() mosquitto {
		a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := strings.Cut(serve(t, a), ":")
		return mosquitto{t: t, a: a, host: host, port: port}
	}
	m := start()
	topic := "channels/" + mt.Channel1 + "/messages/state"
	// retainedNow subscribes as user/key and returns the retained message it is sent
	// (none: "Timed out", as --retained-only and -W 2 make mosquitto_sub say).
	retainedIn := func(m mosquitto, version, user, key string) string {
		out, _ := exec.Command(subBin, "-h", m.host, "-p", m.port, "-V", version, "-u", user, "-P", key, "-t", topic,
			"--retained-only", "-C", "1", "-W", "2", "-F", "%r %p").CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	retainedNow := func(m mosquitto, user, key string) string { return retainedIn(m, "5", user, key) }
	// until subscribes until the retained message is want: the instances apply the bucket's
	// changes as they watch them, within moments; the deadline bounds it.
	until := func(m mosquitto, want string) string {
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := retainedNow(m, mt.Thing1, mt.Key1)
			if got == want || time.Now().After(deadline) {
				return got
			}
		}
	}
	m.pub("-V", "311", "-t", topic, "-m", "on", "-r") // set by an MQTT 3.1.1 publisher
	if got := until(m, "1 on"); got != "1 on" {
		t.Errorf("after a retained publish: %q, want \"1 on\" (retain flag set)", got)
	}
	m.pub("-t", topic, "-m", "off", "-r") // replaced by an MQTT 5 publisher
	if got := until(m, "1 off"); got != "1 off" {
		t.Errorf("after a second retained publish: %q, want \"1 off\"", got)
	}
	if got := retainedIn(m, "311", mt.Thing1, mt.Key1); got != "1 off" {
		t.Errorf("an MQTT 3.1.1 subscriber was sent %q, want \"1 off\"", got)
	}
	if got := retainedNow(m, mt.Thing2, mt.Key2); strings.Contains(got, "off") {
		t.Errorf("a thing not connected to the channel received the retained message: %q", got)
	}
	m.a.Close() // a restart: a new adapter on the same bus
	m = start()
	if got := until(m, "1 off"); got != "1 off" {
		t.Errorf("after a restart: %q, want \"1 off\" from JetStream", got)
	}
	other := start()
	other.pub("-t", topic, "-r", "-n")
	if got := until(m, "Timed out"); got != "Timed out" {
		t.Errorf("after an empty retained publish on another instance: %q, want none", got)
	}
}
