package mqttadapter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/test/testenv"
)

// dialWithWill connects as thing 1 over a raw TCP connection with a will on topic (none if
// topic is empty; MQTT version v, will delay in seconds for MQTT 5) and returns the
// connection and the CONNACK's reason code; closing the connection without DISCONNECT makes
// the will due.
func dialWithWill(t testing.TB, addr, clientID, topic, payload string, v byte, delay uint32) (net.Conn, byte) {
	t.Helper()
	conn, code, err := connectRaw(t, addr, clientID, topic, payload, v, delay)
	if err != nil {
		t.Fatal(err)
	}
	return conn, code
}

// connectRaw is dialWithWill that returns an error where the server answers no CONNACK.
func connectRaw(t testing.TB, addr, clientID, topic, payload string, v byte, delay uint32) (net.Conn, byte, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: clientID, Clean: true, Keepalive: 60,
			UsernameFlag: true, Username: []byte(mt.Thing1), PasswordFlag: true, Password: []byte(mt.Key1),
			WillFlag: topic != "", WillTopic: topic, WillPayload: []byte(payload), WillQos: 1}}
	pk.Connect.WillProperties.WillDelayInterval = delay
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		return conn, 0, fmt.Errorf("encoding the CONNECT: %w", err)
	}
	if _, err := conn.Write(buf.Bytes()); err != nil {
		return conn, 0, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	r := bufio.NewReader(conn)
	typ, err := r.ReadByte()
	if err != nil || typ != 0x20 {
		return conn, 0, fmt.Errorf("reading the CONNACK: first byte %#x, %v; want 0x20", typ, err)
	}
	n, err := binary.ReadUvarint(r) // MQTT's remaining length is the same base-128 encoding
	if err != nil || n < 2 {
		return conn, 0, fmt.Errorf("reading the CONNACK's length: %d, %v", n, err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return conn, 0, fmt.Errorf("reading the CONNACK: %w", err)
	}
	if r.Buffered() > 0 {
		return conn, 0, fmt.Errorf("%d bytes after the CONNACK, want none yet", r.Buffered())
	}
	return conn, body[1], nil
}

// stored returns how many messages the MESSAGES stream holds under channel's subtopics.
func stored(t *testing.T, js jetstream.JetStream, channel string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(messages.Subject(channel, "")+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// disconnects waits until events.mqtt holds n disconnect events (appended after the will
// of an ending connection was handled); the deadline bounds it.
func disconnects(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs, err := events.All(context.Background(), js, events.MQTTSubject)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range evs {
			if e.Fields["event_type"] == "disconnect" {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d disconnect events after 20s, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWill: a will on a channel the thing may not publish on refuses the CONNECT with "not
// authorized" (both versions); an allowed will is stored, then delivered, when the
// connection drops; a normal DISCONNECT sends none; a will whose thing lost the channel
// meanwhile is neither stored nor delivered.
func TestWill(t *testing.T) {
	b := bustest.New(t)
	auth := &switchable{}
	a, err := mqttadapter.New(auth, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	ch1, ch2 := "channels/"+mt.Channel1+"/messages", "channels/"+mt.Channel2+"/messages"

	for _, v := range []byte{4, 5} {
		want := map[byte]byte{4: 0x05, 5: 0x87}[v]
		if _, code := dialWithWill(t, addr, "refused", ch2, "bye", v, 0); code != want {
			t.Errorf("MQTT %d CONNECT with a will on a channel not connected: CONNACK %#x, want not authorized", v, code)
		}
		if _, code := dialWithWill(t, addr, "outside", "devices/x", "bye", v, 0); code != want {
			t.Errorf("MQTT %d CONNECT with a will outside channels: CONNACK %#x, want not authorized", v, code)
		}
	}

	got := newReceived()
	sub, _ := connectThing1(t, addr, "subscriber")
	if tok := sub.Subscribe(ch1+"/#", 1, got.handle); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for _, v := range []byte{4, 5} {
		conn, code := dialWithWill(t, addr, fmt.Sprintf("dying-%d", v), ch1+"/status", fmt.Sprintf("offline-%d", v), v, 0)
		if code != 0 {
			t.Fatalf("MQTT %d CONNECT with an allowed will: CONNACK %#x, want 0", v, code)
		}
		before := stored(t, b.JS, mt.Channel1)
		conn.Close()
		got.waitFor(t, fmt.Sprintf("%s/status offline-%d", ch1, v))
		if n := stored(t, b.JS, mt.Channel1); n != before+1 {
			t.Errorf("after the MQTT %d will: %d messages stored on the channel, want %d (stored before delivery)", v, n, before+1)
		}
	}

	// A clean DISCONNECT sends no will.
	opts := paho.NewClientOptions().AddBroker("tcp://"+addr).SetClientID("polite").SetUsername(mt.Thing1).
		SetPassword(mt.Key1).SetAutoReconnect(false).SetWill(ch1+"/status", "polite-will", 1, false)
	polite := paho.NewClient(opts)
	if tok := polite.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	polite.Disconnect(100)

	// Revoked between CONNECT and the drop: not stored, not delivered, whatever the version.
	conn, _ := dialWithWill(t, addr, "revoked", ch1+"/status", "revoked-will", 4, 0)
	conn5, _ := dialWithWill(t, addr, "revoked-5", ch1+"/status", "revoked-will-5", 5, 0)
	auth.mu.Lock()
	auth.revoked = true
	auth.mu.Unlock()
	applied := onRevoked(a)
	if err := events.Publish(context.Background(), b.JS, events.ThingsSubject,
		map[string]string{"operation": "thing.disconnect", "chan_id": mt.Channel1, "thing_id": mt.Thing1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-applied:
	case <-time.After(20 * time.Second):
		t.Fatal("the things event was not applied within 20s")
	}
	before := stored(t, b.JS, mt.Channel1)
	conn.Close()
	conn5.Close()
	disconnects(t, b.JS, 5) // dying-4, dying-5, polite, revoked, revoked-5
	if n := stored(t, b.JS, mt.Channel1); n != before {
		t.Errorf("a will of a thing disconnected from the channel: %d messages stored, want %d", n, before)
	}
	for _, m := range got.all() {
		if strings.Contains(m, "polite-will") || strings.Contains(m, "revoked-will") {
			t.Errorf("delivered %q, want no will after DISCONNECT or revocation", m)
		}
	}
}

// onRevoked returns a channel that receives once the adapter has applied a things event
// (the access cache dropped what it changed).
func onRevoked(a *mqttadapter.Adapter) <-chan struct{} {
	done := make(chan struct{}, 1)
	mqttadapter.OnRevoked(a, func(map[string]string) {
		select {
		case done <- struct{}{}:
		default:
		}
	})
	return done
}

// TestWillMosquitto: the stock mosquitto client, MQTT 5, is refused "not authorized" for a will
// its thing may not publish.
func TestWillMosquitto(t *testing.T) {
	pub := testenv.LookPath(t, "mosquitto_pub", "mosquitto-clients")
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(serve(t, a), ":")
	for _, v := range []string{"mqttv311", "5"} {
		out, _ := exec.Command(pub, "-h", host, "-p", port, "-V", v, "-u", mt.Thing1, "-P", mt.Key1,
			"--will-topic", "channels/"+mt.Channel2+"/messages", "--will-payload", "bye",
			"-t", "channels/"+mt.Channel1+"/messages", "-m", "hello", "-q", "1").CombinedOutput()
		if !strings.Contains(strings.ToLower(string(out)), "not authori") {
			t.Errorf("mosquitto_pub -V %s with a forbidden will: %q, want a refusal naming not authorised", v, out)
		}
	}
}

// TestWillDelay: an MQTT 5 will with a delay is sent after it, unless a connection with the
// same client id comes back first.
func TestWillDelay(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	ch1 := "channels/" + mt.Channel1 + "/messages"
	got := newReceived()
	sub, _ := connectThing1(t, addr, "subscriber")
	if tok := sub.Subscribe(ch1+"/#", 1, got.handle); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	back, _ := dialWithWill(t, addr, "comes-back", ch1+"/a", "cancelled", 5, 1)
	late, _ := dialWithWill(t, addr, "gone", ch1+"/b", "late", 5, 1)
	back.Close()
	dialWithWill(t, addr, "comes-back", ch1+"/a", "second", 5, 1) // within the delay
	start := time.Now()
	late.Close()
	got.waitFor(t, ch1+"/b late")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the delayed will came after %s, want after its 1s delay", d)
	}
	// The cancelled will was due before the late one, whose delivery came through the same
	// ordered stream: it would have arrived first.
	for _, m := range got.all() {
		if strings.Contains(m, "cancelled") {
			t.Errorf("delivered %q: a will whose client id came back within the delay", m)
		}
	}
}
