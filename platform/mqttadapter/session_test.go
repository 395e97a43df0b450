package mqttadapter_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	"github.com/cairn-iot/cairn/test/testenv"
)

// TestOfflineSession311: a client with clean session 0 subscribes at QoS 1, disconnects, and
// on reconnecting with the same client id receives what was published meanwhile, in order,
// with the session reported present; a clean session gets nothing of it.
func TestOfflineSession311(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	topic := "channels/" + mt.Channel1 + "/messages"
	got := newReceived()
	opts := func() *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("persistent").SetUsername(mt.Thing1).
			SetPassword(mt.Key1).SetAutoReconnect(false).SetCleanSession(false).SetDefaultPublishHandler(got.handle)
	}
	c := paho.NewClient(opts())
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := c.Subscribe(topic+"/#", 1, nil); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	pub, _ := connectThing1(t, addr, "publisher")
	for i := range 3 {
		if tok := pub.Publish(topic+"/offline", 1, false, fmt.Sprint(i)); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	// Stored is not yet queued: reconnect once the session holds them (a message queued in
	// the instant of the reconnection may come twice, see session.go).
	mqttadapter.WaitQueued(t, a, "persistent", 3)
	c = paho.NewClient(opts())
	tok := c.Connect()
	if tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if !tok.(*paho.ConnectToken).SessionPresent() {
		t.Error("CONNACK session present = false, want true")
	}
	defer c.Disconnect(0)
	// The broker resends a session's queue in an order of its own within a second (see
	// session.go): compare as sets.
	msgs := got.takeSorted(t, 3)
	want := []string{topic + "/offline 0", topic + "/offline 1", topic + "/offline 2"}
	if !slices.Equal(msgs, want) {
		t.Errorf("queued messages %q, want %q", msgs, want)
	}
}

// TestOfflineSession5: the stock mosquitto client, MQTT 5 with a session expiry, gets the
// QoS 1 and QoS 2 messages published while it was away, at their QoS.
func TestOfflineSession5(t *testing.T) {
	subBin := testenv.LookPath(t, "mosquitto_sub", "mosquitto-clients")
	m := newMosquitto(t)
	topic := "channels/" + mt.Channel1 + "/messages"
	args := []string{"-h", m.host, "-p", m.port, "-V", "5", "-i", "away", "-c", "-x", "300", "-u", mt.Thing1, "-P", mt.Key1,
		"-t", topic, "-q", "2", "-F", "%q %p"}
	// First connection: subscribe, then leave (-E: exit once subscribed).
	if out, err := exec.Command(subBin, append(args, "-E")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_sub -E: %v %s", err, out)
	}
	m.pub("-t", topic, "-m", "one", "-q", "1")
	m.pub("-t", topic, "-m", "two", "-q", "2")
	m.pub("-t", topic, "-m", "gone", "-q", "0") // QoS 0 is not queued
	mqttadapter.WaitQueued(t, m.a, "away", 2)
	out, err := exec.Command(subBin, append(args, "-C", "2", "-W", "20")...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub reconnecting: %v %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(lines)
	if got := strings.Join(lines, "\n"); got != "1 one\n2 two" {
		t.Errorf("after reconnecting: %q, want the queued messages at their QoS: 1 one, 2 two", got)
	}
}

// TestSessionAcrossRestart: a persistent session outlives its adapter: a new adapter of the
// same instance name takes it up with its subscription and its queue, and delivers to it what
// was stored while no adapter ran (an HTTP publish meanwhile); the restored session's
// deliveries are asked as its thing. Another instance does not take it.
func TestSessionAcrossRestart(t *testing.T) {
	b := bustest.New(t)
	newAdapter := func(instance string) (*mqttadapter.Adapter, string) {
		a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance(instance))
		if err != nil {
			t.Fatal(err)
		}
		return a, serve(t, a)
	}
	first, addr := newAdapter("node-1")
	topic := "channels/" + mt.Channel1 + "/messages"
	got := newReceived()
	opts := func(addr string) *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("survivor").SetUsername(mt.Thing1).
			SetPassword(mt.Key1).SetAutoReconnect(false).SetCleanSession(false).SetDefaultPublishHandler(got.handle)
	}
	c := paho.NewClient(opts(addr))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := c.Subscribe(topic+"/#", 1, nil); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	for deadline := time.Now().Add(20 * time.Second); !mqttadapter.Offline(first, "survivor"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session is not offline 20s after its DISCONNECT")
		}
	}
	pub, _ := connectThing1(t, addr, "publisher")
	if tok := pub.Publish(topic+"/queued", 1, false, "q"); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub.Disconnect(100)
	waitQueued(t, b.JS, 1)
	first.Close()
	if _, err := messages.NewPublisher(b.JS).Publish(context.Background(), &messagingv1.Message{
		Channel: mt.Channel1, Subtopic: "down", Publisher: mt.Thing1, Protocol: "http", Payload: []byte("d"), Qos: 1,
	}, ""); err != nil {
		t.Fatal(err)
	}
	_, other := newAdapter("node-2")
	c = paho.NewClient(opts(other))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	} else if tok.(*paho.ConnectToken).SessionPresent() {
		t.Error("another instance reports the session present, want a new session there")
	}
	c.Disconnect(100)
	_, addr = newAdapter("node-1")
	waitQueued(t, b.JS, 2) // the restarted adapter queued what was stored while it was down
	c = paho.NewClient(opts(addr))
	tok := c.Connect()
	if tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(0)
	if !tok.(*paho.ConnectToken).SessionPresent() {
		t.Error("CONNACK session present = false after the restart, want true")
	}
	msgs := got.takeSorted(t, 2)
	if want := []string{topic + "/down d", topic + "/queued q"}; !slices.Equal(msgs, want) {
		t.Errorf("after the restart the session received %q, want %q", msgs, want)
	}
}

// waitQueued waits (at most 20 s) until the session bucket holds n queued messages.
func waitQueued(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bus.SessionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		keys, _ := kv.ListKeysFiltered(context.Background(), "*.m.>")
		got := 0
		if keys != nil {
			for range keys.Keys() {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session bucket holds %d queued messages, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
