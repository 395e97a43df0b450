package mqttadapter_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
)

// TestNoDisconnectTo311: a refused QoS 1 publish ends an MQTT 3.1.1 connection with no
// DISCONNECT packet (3.1.1 has none from the server), only the close; an MQTT 5 client gets
// a PUBACK "not authorized" instead.
func TestNoDisconnectTo311(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	for _, v := range []byte{4, 5} {
		conn, code := dialWithWill(t, addr, "raw", "", "", v, 0)
		if code != 0 {
			t.Fatalf("MQTT %d CONNECT: CONNACK %#x", v, code)
		}
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: v,
			TopicName: "channels/" + mt.Channel2 + "/messages", Payload: []byte("x"), PacketID: 1}
		var buf bytes.Buffer
		if err := pk.PublishEncode(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if v == 5 { // a negative PUBACK; the connection stays
			ack := make([]byte, 5)
			if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x40 || ack[4] != 0x87 {
				t.Errorf("MQTT 5: read %x (%v), want a PUBACK with reason 0x87 not authorized", ack, err)
			}
			continue
		}
		rest, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("MQTT 3.1.1: reading until the close: %v (read %x)", err, rest)
		}
		if len(rest) != 0 {
			t.Errorf("MQTT 3.1.1: the server wrote %x before closing, want nothing (no DISCONNECT)", rest)
		}
	}
}
