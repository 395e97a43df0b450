package mqttadapter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
)

// TestDeliveryQoS: a subscriber receives each message at the lower of the publish's QoS and
// its subscription's: QoS 2 end to end where both asked for it.
func TestDeliveryQoS(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	topic := "channels/" + mt.Channel1 + "/messages"
	got := map[byte]chan string{0: make(chan string, 10), 1: make(chan string, 10), 2: make(chan string, 10)}
	for q, ch := range got {
		c, _ := connectThing1(t, addr, fmt.Sprintf("sub-q%d", q))
		handler := func(_ paho.Client, m paho.Message) { ch <- fmt.Sprintf("%s q%d", m.Payload(), m.Qos()) }
		if tok := c.Subscribe(topic, q, handler); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	pub, _ := connectThing1(t, addr, "publisher")
	for q := range byte(3) {
		if tok := pub.Publish(topic, q, false, fmt.Sprintf("p%d", q)); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for sub, ch := range got {
		for p := range byte(3) {
			want := fmt.Sprintf("p%d q%d", p, min(p, sub))
			select {
			case m := <-ch:
				if m != want {
					t.Errorf("subscriber at QoS %d received %q, want %q", sub, m, want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("subscriber at QoS %d: nothing within 20s, want %q", sub, want)
			}
		}
	}
}

// TestEmptyLevels: empty topic levels are legal MQTT; a publish on one is stored (subtopic
// level messages.EmptyLevel) and delivered under its own topic to matching filters.
func TestEmptyLevels(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	base := "channels/" + mt.Channel1 + "/messages"
	got := newReceived()
	sub, _ := connectThing1(t, addr, "sub")
	if tok := sub.Subscribe(base+"/+/a", 1, got.handle); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub, _ := connectThing1(t, addr, "pub")
	if tok := pub.Publish(base+"//a", 1, false, "empty"); tok.Wait() && tok.Error() != nil {
		t.Fatalf("publishing on %s//a: %v", base, tok.Error())
	}
	got.waitFor(t, base+"//a empty")
	// The same with the stock client over MQTT 5.
	m := mosquitto{t: t, a: a}
	m.host, m.port, _ = strings.Cut(addr, ":")
	m.pub("-t", base+"//a", "-m", "empty-5")
	got.waitFor(t, base+"//a empty-5")
	if n := stored(t, b.JS, mt.Channel1); n != 2 {
		t.Errorf("%d messages stored under the channel's subtopics, want 2", n)
	}
}
