package platform_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestSessionsAcrossRestart: persistent sessions (mosquitto over MQTT 3.1.1 at QoS 2 and over
// MQTT 5 with a session expiry, paho over 3.1.1 with clean session 0) subscribe, go offline,
// and get, once they reconnect to the restarted all-in-one, what was published while they
// were away: before the restart over HTTP, after it over MQTT at QoS 2.
func TestSessionsAcrossRestart(t *testing.T) {
	t.Parallel()
	requireMosquitto(t)
	httpAddr, mqttAddr, natsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := map[string]string{"CAIRN_HTTP_ADDR": httpAddr, "CAIRN_MQTT_ADDR": mqttAddr, "CAIRN_NATS_LISTEN": natsAddr,
		"CAIRN_DATA_DIR": t.TempDir(), "CAIRN_BCRYPT_COST": "4"}
	stop := start(t, "cairn", env, httpAddr)
	base := "http://" + httpAddr
	must(t, 201, "POST", base+"/users", "", `{"email":"s@example.com","password":"a-long-secret"}`, nil)
	var tok struct{ Token string }
	must(t, 201, "POST", base+"/tokens", "", `{"email":"s@example.com","password":"a-long-secret"}`, &tok)
	bearer := "Bearer " + tok.Token
	var th, ch thingView
	must(t, 200, "GET", base+must(t, 201, "POST", base+"/things", bearer, `{"name":"s"}`, nil).Get("Location"), bearer, "", &th)
	must(t, 200, "GET", base+must(t, 201, "POST", base+"/channels", bearer, `{"name":"s"}`, nil).Get("Location"), bearer, "", &ch)
	must(t, 200, "PUT", base+"/channels/"+ch.ID+"/things/"+th.ID, bearer, "", nil)
	topic := "channels/" + ch.ID + "/messages"

	mosquittos := map[string][]string{
		"sess-v3": {"-q", "2"},
		"sess-v5": {"-V", "5", "-x", "3600"},
	}
	for id, opts := range mosquittos {
		s, granted := subscribe(t, mqttAddr, th.ID, th.Key, topic, append([]string{"-i", id, "-c"}, opts...)...)
		if granted != opts[1] && granted != "1" {
			t.Fatalf("%s: granted %s", id, granted)
		}
		s.stop()
	}
	pahoOpts := paho.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("sess-paho").SetUsername(th.ID).
		SetPassword(th.Key).SetCleanSession(false).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	received := make(chan string, 10)
	pahoOpts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { received <- string(m.Payload()) })
	pc := paho.NewClient(pahoOpts)
	if tk := pc.Connect(); !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho connect: %v", tk.Error())
	}
	if tk := pc.Subscribe(topic, 1, nil); !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho subscribe: %v", tk.Error())
	}
	pc.Disconnect(100)

	must(t, 202, "POST", base+"/channels/"+ch.ID+"/messages", "Thing "+th.Key, "before-restart", nil)
	stop()
	start(t, "cairn", env, httpAddr)
	if out, err := mqttPublish(mqttAddr, th.ID, th.Key, topic, "after-restart", "-q", "2"); err != nil {
		t.Fatalf("mosquitto_pub -q 2 after the restart: %v\n%s", err, out)
	}
	// Reconnect once the three sessions queued both messages (not in the instant a
	// delivery is queued: see the adapter's session.go).
	waitFor(t, 20*time.Second, "six messages queued for the three sessions", func() bool { return queuedMessages(t, natsAddr) == 6 })

	want := []string{"after-restart", "before-restart"}
	for id, opts := range mosquittos {
		host, port, _ := strings.Cut(mqttAddr, ":")
		args := append([]string{"-h", host, "-p", port, "-u", th.ID, "-P", th.Key, "-t", topic, "-i", id, "-c",
			"-C", "2", "-W", "30", "-d", "-F", "MSG %p"}, opts...)
		out, err := exec.Command("mosquitto_sub", args...).CombinedOutput()
		var got []string
		for line := range strings.SplitSeq(string(out), "\n") {
			if p, ok := strings.CutPrefix(line, "MSG "); ok {
				got = append(got, p)
			}
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s reconnecting after the restart: %v, received %q, want %q\n%s", id, err, got, want, out)
		}
		if id == "sess-v3" && !strings.Contains(string(out), "q2") {
			t.Errorf("%s subscribed at QoS 2 received no QoS 2 delivery:\n%s", id, out)
		}
	}
	pc = paho.NewClient(pahoOpts)
	if tk := pc.Connect(); !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho reconnect: %v", tk.Error())
	}
	defer pc.Disconnect(100)
	var got []string
	deadline := time.After(30 * time.Second)
	for len(got) < 2 {
		select {
		case p := <-received:
			got = append(got, p)
		case <-deadline:
			t.Fatalf("paho's session after the restart received %q, want %q", got, want)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("paho's session after the restart received %q, want %q", got, want)
	}
}

// queuedMessages counts the MQTT messages the sessions bucket holds.
func queuedMessages(t *testing.T, natsAddr string) int {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "cairn_sessions")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(ctx, "*.m.>")
	if err != nil {
		return 0
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	return n
}
