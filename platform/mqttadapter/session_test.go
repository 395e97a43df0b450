package mqttadapter_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
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
	var msgs []string
	for i := range 3 {
		select {
		case m := <-got.ch:
			msgs = append(msgs, m)
		case <-time.After(20 * time.Second):
			t.Fatalf("queued message %d did not arrive within 20s; got %q", i, msgs)
		}
	}
	slices.Sort(msgs)
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
