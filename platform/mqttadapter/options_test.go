package mqttadapter_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
)

// rawClient is an MQTT 5 connection of thing 1 written packet by packet.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (c *rawClient) send(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = 5
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the type of the next packet from the server and its body, or 0 once nothing
// came within wait.
func (c *rawClient) next(wait time.Duration) (byte, []byte) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	typ, err := c.r.ReadByte()
	if err != nil {
		return 0, nil
	}
	n, err := binary.ReadUvarint(c.r)
	if err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	return typ >> 4, body
}

// TestNoLocal: a subscription with No Local does not receive the subscriber's own publishes;
// another client's subscription does.
func TestNoLocal(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	topic := "channels/" + mt.Channel1 + "/messages"
	got := newReceived()
	other, _ := connectThing1(t, addr, "other")
	if tok := other.Subscribe(topic, 1, got.handle); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	conn, _ := dialWithWill(t, addr, "self", "", "", 5, 0)
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: topic, Qos: 1, NoLocal: true}}})
	if typ, body := c.next(10 * time.Second); typ != packets.Suback || body[len(body)-1] != 1 {
		t.Fatalf("SUBSCRIBE with No Local: packet %d %x, want a SUBACK granting QoS 1", typ, body)
	}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 2, TopicName: topic, Payload: []byte("mine")})
	if typ, body := c.next(10 * time.Second); typ != packets.Puback {
		t.Fatalf("PUBLISH: packet %d %x, want a PUBACK", typ, body)
	}
	got.waitFor(t, topic+" mine") // delivered to the other client: the delivery happened
	if typ, body := c.next(500 * time.Millisecond); typ != 0 {
		t.Errorf("the publisher's No Local subscription received packet %d %x, want nothing", typ, body)
	}
}

// TestSharedSubscription: each message on a shared subscription goes to one member of the
// group; a plain subscription gets every message; a thing not connected to the channel
// cannot join the group.
func TestSharedSubscription(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	topic := "channels/" + mt.Channel1 + "/messages"
	var mu sync.Mutex
	count := map[string]int{}
	all := make(chan string, 100)
	for _, id := range []string{"member-1", "member-2", "plain"} {
		c, _ := connectThing1(t, addr, id)
		filter := "$share/workers/" + topic
		if id == "plain" {
			filter = topic
		}
		tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
			mu.Lock()
			count[id]++
			mu.Unlock()
			all <- id + " " + string(m.Payload())
		})
		if tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	pub, _ := connectThing1(t, addr, "publisher")
	const n = 40
	for i := range n {
		if tok := pub.Publish(topic, 1, false, fmt.Sprint(i)); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for range 2 * n {
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			t.Fatalf("deliveries after 20s: %v, want %d to the plain subscriber and %d to the group", count, n, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if count["plain"] != n || count["member-1"]+count["member-2"] != n || count["member-1"] == 0 || count["member-2"] == 0 {
		t.Errorf("deliveries %v, want %d to plain and %d spread over both members", count, n, n)
	}
	outsider, err := connect(addr, "outsider", mt.Thing2, mt.Key2)
	if err != nil {
		t.Fatal(err)
	}
	tok := outsider.Subscribe("$share/workers/"+topic, 1, nil)
	tok.Wait()
	// paho names the result by the filter without its share prefix.
	if got := tok.(*paho.SubscribeToken).Result()[topic]; got != 0x80 {
		t.Errorf("a thing not connected to the channel joined the group: granted %#x, want 0x80", got)
	}
}
