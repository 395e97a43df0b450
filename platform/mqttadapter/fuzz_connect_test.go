package mqttadapter_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
)

// connected reports whether thing 1 may publish or subscribe on topic's channel; a filter may
// be a shared subscription, $share/<group>/<filter>.
func connected(topic string, filter bool) bool {
	if rest, ok := strings.CutPrefix(topic, "$share/"); ok && filter {
		group, f, _ := strings.Cut(rest, "/")
		if group == "" || strings.ContainsAny(group, "+#") {
			return false
		}
		topic = f
	}
	channel, _, err := messages.ParseTopic(topic, filter)
	return err == nil && (channel == mt.Channel1 || channel == mt.Channel3)
}

// FuzzConnectWill: a CONNECT of thing 1 with a fuzzed will (topic, payload, version, delay)
// is accepted exactly when the thing may publish on the will topic and the will has a
// payload (or there is no will).
func FuzzConnectWill(f *testing.F) {
	for _, s := range []string{"channels/" + mt.Channel1 + "/messages", "channels/" + mt.Channel2 + "/messages",
		"channels/" + mt.Channel1 + "/messages/+", "channels/" + mt.Channel3 + "/messages/a/b", "$SYS/x", "#", ""} {
		f.Add(s, []byte("bye"), false, uint32(0))
		f.Add(s, []byte{}, true, uint32(1))
	}
	b := bustest.New(f)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	addr := serve(f, a)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, v5 bool, delay uint32) {
		v := byte(4)
		if v5 {
			v = 5
		}
		conn, code, err := connectRaw(t, addr, "fuzz", topic, string(payload), v, delay)
		if err != nil {
			code = 0xff // refused without a CONNACK (a malformed CONNECT)
		}
		defer conn.Close()
		// The broker refuses a will with an empty payload (protocol error): see will.go.
		if want := topic == "" || (len(payload) > 0 && connected(topic, false)); want != (code == 0) {
			t.Fatalf("will topic %q (MQTT %d): CONNACK %#x (%v), want accepted %v", topic, v, code, err, want)
		}
	})
}

// FuzzSubscribeOptions: an MQTT 5 SUBSCRIBE of thing 1 with a fuzzed filter and options (QoS,
// No Local, Retain As Published, Retain Handling) is granted exactly when the thing may
// subscribe there and the options are valid, at most at the QoS asked.
func FuzzSubscribeOptions(f *testing.F) {
	f.Add("channels/"+mt.Channel1+"/messages/#", byte(2), true, true, byte(0))
	f.Add("channels/"+mt.Channel2+"/messages", byte(1), false, false, byte(2))
	f.Add("channels/+/messages", byte(0), false, true, byte(1))
	f.Add("$share/g/channels/"+mt.Channel1+"/messages", byte(1), false, false, byte(0))
	f.Add("", byte(3), true, false, byte(3))
	b := bustest.New(f)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	addr := serve(f, a)
	f.Fuzz(func(t *testing.T, filter string, qos byte, noLocal, rap bool, rh byte) {
		conn, code := dialWithWill(t, addr, "fuzz-sub", "", "", 5, 0)
		defer conn.Close()
		if code != 0 {
			t.Fatalf("CONNECT: %#x", code)
		}
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 5, PacketID: 7,
			Filters: packets.Subscriptions{{Filter: filter, Qos: qos & 3, NoLocal: noLocal, RetainAsPublished: rap, RetainHandling: rh & 3}}}
		var buf bytes.Buffer
		if err := pk.SubscribeEncode(&buf); err != nil {
			t.Skip("not encodable") // the encoder refuses what no client can send
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		typ, err := r.ReadByte()
		if err != nil {
			return // the broker closed a malformed SUBSCRIBE: nothing granted
		}
		n, _ := binary.ReadUvarint(r)
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil || typ != 0x90 || n < 4 {
			return // a DISCONNECT or a close: nothing granted
		}
		granted := body[len(body)-1] < 0x80
		valid := qos&3 < 3 && rh&3 < 3 && !(noLocal && len(filter) > 7 && filter[:7] == "$share/")
		if granted && (!valid || !connected(filter, true)) {
			t.Fatalf("SUBSCRIBE %q qos %d nl %v rap %v rh %d: granted %#x, want refused", filter, qos, noLocal, rap, rh, body[len(body)-1])
		}
		if granted && body[len(body)-1] > qos&3 {
			t.Fatalf("SUBSCRIBE %q qos %d: granted QoS %d, more than asked", filter, qos&3, body[len(body)-1])
		}
		if !granted && valid && connected(filter, true) {
			t.Fatalf("SUBSCRIBE %q qos %d nl %v rap %v rh %d: refused %#x, want granted", filter, qos, noLocal, rap, rh, body[len(body)-1])
		}
	})
}
