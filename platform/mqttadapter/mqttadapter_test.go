package mqttadapter_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// received collects what an MQTT client received.
type received struct {
	mu   sync.Mutex
	msgs []string // "topic payload"
	ch   chan string
}

func newReceived() *received { return &received{ch: make(chan string, 100)} }

func (r *received) handle(_ paho.Client, m paho.Message) {
	s := m.Topic() + " " + string(m.Payload())
	r.mu.Lock()
	r.msgs = append(r.msgs, s)
	r.mu.Unlock()
	r.ch <- s
}

// waitFor waits until want arrives (the test's own deadline bounds it).
func (r *received) waitFor(t *testing.T, want string) {
	t.Helper()
	for s := range r.ch {
		if s == want {
			return
		}
	}
}

// takeSorted waits (at most 20 s each) for the next n messages and returns them sorted.
func (r *received) takeSorted(t *testing.T, n int) []string {
	t.Helper()
	var msgs []string
	for i := range n {
		select {
		case m := <-r.ch:
			msgs = append(msgs, m)
		case <-time.After(20 * time.Second):
			t.Fatalf("message %d did not arrive within 20s; got %q", i, msgs)
		}
	}
	slices.Sort(msgs)
	return msgs
}

func (r *received) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// connectThing1 connects clientID as thing 1 without reconnecting; lost is closed when the
// server drops the connection.
func connectThing1(t *testing.T, addr, clientID string) (c paho.Client, lost <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{})
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(mt.Thing1).SetPassword(mt.Key1).SetAutoReconnect(false).
		SetConnectionLostHandler(func(paho.Client, error) { close(ch) })
	c = paho.NewClient(opts)
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return c, ch
}

func connect(addr, clientID, user, pass string) (paho.Client, error) {
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	tok.Wait()
	return c, tok.Error()
}

// serve starts a on a loopback port, stopped when the test ends, and returns its address.
func serve(t testing.TB, a *mqttadapter.Adapter) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background(), mqttadapter.Listener{Name: mqttadapter.ListenerMQTT, Listener: ln}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return ln.Addr().String()
}

func TestAdapter(t *testing.T) {
	b := bustest.New(t)
	clock := time.Unix(1700000000, 0)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test-instance"),
		mqttadapter.WithMaxPayload(32), mqttadapter.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	ch1 := "channels/" + mt.Channel1 + "/messages"

	// Refused connections.
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong key", mt.Thing1, "nope"},
		{"key of another thing", mt.Thing1, mt.Key2},
		{"no password", mt.Thing1, ""},
	} {
		if c, err := connect(addr, "refused", tc.user, tc.pass); err == nil {
			c.Disconnect(0)
			t.Errorf("CONNECT %s (%s/%s) succeeded, want refused", tc.name, tc.user, tc.pass)
		}
	}

	sub, err := connect(addr, "sub", mt.Thing1, mt.Key1)
	if err != nil {
		t.Fatalf("CONNECT thing 1: %v", err)
	}
	defer sub.Disconnect(0)
	got := newReceived()
	tok := sub.Subscribe(ch1+"/#", 1, got.handle)
	tok.Wait()
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
	if q := tok.(*paho.SubscribeToken).Result()[ch1+"/#"]; q != 1 {
		t.Fatalf("SUBSCRIBE %s/# granted %#x, want 1", ch1, q)
	}
	for _, filter := range []string{"channels/" + mt.Channel2 + "/messages", "channels/+/messages", "$SYS/#", "#", "channels/" + mt.NoChannel + "/messages"} {
		tok := sub.Subscribe(filter, 1, func(paho.Client, paho.Message) {}) // paho routes locally even if refused
		tok.Wait()
		if q := tok.(*paho.SubscribeToken).Result()[filter]; q != 0x80 {
			t.Errorf("SUBSCRIBE %s granted %#x, want 0x80 (refused)", filter, q)
		}
	}

	pub, err := connect(addr, "pub", mt.Thing1, mt.Key1)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(0)
	intruder, err := connect(addr, "intruder", mt.Thing2, mt.Key2)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(c paho.Client, topic string, qos byte, payload string) {
		t.Helper()
		tok := c.Publish(topic, qos, false, payload)
		tok.Wait()
		if err := tok.Error(); err != nil {
			t.Fatalf("PUBLISH %s: %v", topic, err)
		}
	}
	publish(pub, ch1, 1, "one")
	publish(pub, ch1+"/room/temp", 2, "two")
	// An HTTP publish (any adapter) reaches MQTT subscribers through the bus.
	if _, err := messages.NewPublisher(b.JS).Publish(context.Background(), &messagingv1.Message{
		Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "http", Payload: []byte("three"),
	}, messages.NewID()); err != nil {
		t.Fatal(err)
	}
	// Refused publishes (QoS 0, so the intruder stays connected): not connected, oversized,
	// outside the channels namespace.
	publish(intruder, ch1, 0, "intruder")
	publish(pub, ch1, 0, "this payload is larger than thirty-two bytes")
	publish(pub, "elsewhere", 0, "elsewhere")
	publish(pub, ch1, 1, "last")
	got.waitFor(t, ch1+" last")

	want := []string{ch1 + " one", ch1 + "/room/temp two", ch1 + " three", ch1 + " last"}
	if diff := cmp.Diff(want, got.all()); diff != "" {
		t.Errorf("subscriber received (-want +got):\n%s", diff)
	}
	page, err := messages.NewReader(b.JS).Read(context.Background(), mt.Channel1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantStored := []messages.Record{
		{Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "mqtt", Payload: "one", Created: clock.UnixNano()},
		{Channel: mt.Channel1, Subtopic: "room.temp", Publisher: mt.Thing1, Protocol: "mqtt", Payload: "two", Created: clock.UnixNano()},
		{Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "http", Payload: "three"},
		{Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "mqtt", Payload: "last", Created: clock.UnixNano()},
	}
	if diff := cmp.Diff(wantStored, page.Messages); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	// A client id in use by another thing's session is refused.
	if c, err := connect(addr, "sub", mt.Thing2, mt.Key2); err == nil {
		c.Disconnect(0)
		t.Errorf("CONNECT thing 2 with thing 1's client id succeeded, want refused")
	}

	intruder.Disconnect(0)
	// Wait for the intruder's disconnect event before reading the log.
	var evs []events.Event
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err = events.All(context.Background(), b.JS, events.MQTTSubject)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(evs, func(e events.Event) bool { return e.Fields["event_type"] == "disconnect" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no disconnect event within 30s of the intruder's disconnect; events: %v", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var gotEvents []map[string]string
	for _, e := range evs {
		gotEvents = append(gotEvents, e.Fields)
	}
	ev := func(thing, typ string) map[string]string {
		return map[string]string{"thing_id": thing, "timestamp": "1700000000000000000", "event_type": typ, "instance": "test-instance"}
	}
	wantEvents := []map[string]string{ev(mt.Thing1, "connect"), ev(mt.Thing1, "connect"), ev(mt.Thing2, "connect"), ev(mt.Thing2, "disconnect")}
	// Connections are concurrent: their events' order is not the test's.
	order := func(a, b map[string]string) int {
		return strings.Compare(a["thing_id"]+a["event_type"], b["thing_id"]+b["event_type"])
	}
	slices.SortFunc(gotEvents, order)
	slices.SortFunc(wantEvents, order)
	if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
		t.Errorf("events.mqtt (-want +got):\n%s", diff)
	}
}

func TestRevocation(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan map[string]string, 10)
	mqttadapter.OnRevoked(a, func(ev map[string]string) { applied <- ev })
	addr := serve(t, a)

	sub, lost := connectThing1(t, addr, "sub")
	got := newReceived()
	for _, ch := range []string{mt.Channel1, mt.Channel3} {
		tok := sub.Subscribe("channels/"+ch+"/messages/#", 1, got.handle)
		tok.Wait()
		if q := tok.(*paho.SubscribeToken).Result()["channels/"+ch+"/messages/#"]; q != 1 {
			t.Fatalf("SUBSCRIBE %s granted %#x, want 1", ch, q)
		}
	}
	emit := func(fields map[string]string) {
		t.Helper()
		if err := events.Publish(context.Background(), b.JS, events.ThingsSubject, fields); err != nil {
			t.Fatal(err)
		}
		<-applied
	}
	put := func(channel, payload string) {
		t.Helper()
		if _, err := messages.NewPublisher(b.JS).Publish(context.Background(), &messagingv1.Message{
			Channel: channel, Publisher: mt.Thing1, Protocol: "http", Payload: []byte(payload),
		}, messages.NewID()); err != nil {
			t.Fatal(err)
		}
	}
	// An unrelated event changes nothing (and is not reported as applied).
	if err := events.Publish(context.Background(), b.JS, events.ThingsSubject, map[string]string{"operation": "thing.create", "id": "x"}); err != nil {
		t.Fatal(err)
	}
	emit(map[string]string{"operation": "thing.disconnect", "chan_id": mt.Channel1, "thing_id": mt.Thing1})
	put(mt.Channel1, "after disconnect")
	put(mt.Channel3, "still subscribed")
	got.waitFor(t, "channels/"+mt.Channel3+"/messages still subscribed")
	if diff := cmp.Diff([]string{"channels/" + mt.Channel3 + "/messages still subscribed"}, got.all()); diff != "" {
		t.Errorf("after thing.disconnect, received (-want +got):\n%s", diff)
	}

	emit(map[string]string{"operation": "thing.remove", "id": mt.Thing1})
	<-lost // the removed thing's connection is closed
	if sub.IsConnected() {
		t.Errorf("client of a removed thing still connected")
	}
}

// switchable answers like mt.Authorizer until revoked, then refuses everything as
// "forbidden"; it counts the questions.
type switchable struct {
	mu      sync.Mutex
	revoked bool
	asked   int
}

func (s *switchable) Authorize(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked++
	resp, err := mt.Authorizer{}.Authorize(ctx, req)
	if s.revoked && err == nil && req.GetChannel() != "-" {
		resp.Status = thingsv1.AccessResponse_STATUS_FORBIDDEN
	}
	return resp, err
}

// TestRevocationDropsCachedGrant: the adapter caches access answers (an hour here, so only
// an event ends one); after thing.disconnect is applied, the same SUBSCRIBE is asked afresh
// and refused, and PUBLISH too.
func TestRevocationDropsCachedGrant(t *testing.T) {
	b := bustest.New(t)
	auth := &switchable{}
	a, err := mqttadapter.New(auth, b.JS, mqttadapter.WithInstance("test"),
		mqttadapter.WithAccessCache(access.WithTTL(time.Hour, time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan map[string]string, 10)
	mqttadapter.OnRevoked(a, func(ev map[string]string) { applied <- ev })
	addr := serve(t, a)
	c, err := connect(addr, "sub", mt.Thing1, mt.Key1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	filter := "channels/" + mt.Channel1 + "/messages/#"
	subscribe := func() byte {
		t.Helper()
		tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
		tok.Wait()
		return tok.(*paho.SubscribeToken).Result()[filter]
	}
	if q := subscribe(); q != 1 {
		t.Fatalf("SUBSCRIBE %s granted %#x, want 1", filter, q)
	}
	auth.mu.Lock()
	auth.revoked = true
	asked := auth.asked
	auth.mu.Unlock()
	if q := subscribe(); q != 1 {
		t.Fatalf("SUBSCRIBE %s again before any event granted %#x, want the cached 1", filter, q)
	}
	auth.mu.Lock()
	if auth.asked != asked {
		t.Errorf("SUBSCRIBE again asked the things service %d times, want 0 (cached)", auth.asked-asked)
	}
	auth.mu.Unlock()
	if err := events.Publish(context.Background(), b.JS, events.ThingsSubject,
		map[string]string{"operation": "thing.disconnect", "chan_id": mt.Channel1, "thing_id": mt.Thing1}); err != nil {
		t.Fatal(err)
	}
	<-applied
	if q := subscribe(); q != 0x80 {
		t.Errorf("SUBSCRIBE %s after thing.disconnect granted %#x, want 0x80 (refused)", filter, q)
	}
}

// TestPipelinedPublishes: QoS 1 publishes of one connection sent without waiting are all
// acknowledged, and stored in the order they were sent.
func TestPipelinedPublishes(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	c, err := connect(addr, "pub", mt.Thing1, mt.Key1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	const n = 500
	var toks []paho.Token
	var want []string
	for i := range n {
		qos := byte(1)
		if i%5 == 0 {
			qos = 0
		}
		p := strconv.Itoa(i)
		want = append(want, p)
		toks = append(toks, c.Publish("channels/"+mt.Channel1+"/messages", qos, false, p))
	}
	for i, tok := range toks {
		tok.Wait()
		if err := tok.Error(); err != nil {
			t.Fatalf("PUBLISH %d: %v", i, err)
		}
	}
	// The QoS 0 publishes have no acknowledgement: wait until the store holds all.
	var page messages.Page
	for page.Total < n {
		time.Sleep(5 * time.Millisecond)
		if page, err = messages.NewReader(b.JS).Read(context.Background(), mt.Channel1, 0, n); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, m := range page.Messages {
		got = append(got, m.Payload)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestPublishNotStored: a QoS 1 publish the stream does not store is not acknowledged; an
// MQTT 3.1.1 client, which has no negative PUBACK, is disconnected.
func TestPublishNotStored(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	c, lost := connectThing1(t, addr, "pub")
	defer c.Disconnect(0)
	if err := b.JS.DeleteStream(context.Background(), messages.Stream); err != nil {
		t.Fatal(err)
	}
	tok := c.Publish("channels/"+mt.Channel1+"/messages", 1, false, "lost")
	<-lost
	if tok.WaitTimeout(0) && tok.Error() == nil {
		t.Errorf("PUBLISH to a missing stream was acknowledged")
	}
}

// TestDeliveriesOnlyWhileSubscribed: the consumer that feeds subscribers runs from the
// first granted SUBSCRIBE (before its SUBACK) until a check finds no subscription left; a
// later SUBSCRIBE starts it again, and its subscriber gets what is stored after the SUBACK.
func TestDeliveriesOnlyWhileSubscribed(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	if mqttadapter.Delivering(a) {
		t.Errorf("delivering before any subscription")
	}
	c, err := connect(addr, "sub", mt.Thing1, mt.Key1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	topic := "channels/" + mt.Channel1 + "/messages"
	put := func(payload string) {
		t.Helper()
		if _, err := messages.NewPublisher(b.JS).Publish(context.Background(), &messagingv1.Message{
			Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "http", Payload: []byte(payload),
		}, ""); err != nil {
			t.Fatal(err)
		}
	}
	// A refused SUBSCRIBE starts nothing.
	if tok := c.Subscribe("channels/"+mt.Channel2+"/messages", 1, nil); tok.Wait() && mqttadapter.Delivering(a) {
		t.Errorf("delivering after a refused SUBSCRIBE")
	}
	for round := range 2 {
		got := newReceived()
		if tok := c.Subscribe(topic, 1, got.handle); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		if !mqttadapter.Delivering(a) {
			t.Fatalf("round %d: not delivering after a granted SUBSCRIBE", round)
		}
		mqttadapter.StopIdleDelivery(a)
		if !mqttadapter.Delivering(a) {
			t.Fatalf("round %d: the idle check stopped deliveries with a subscription left", round)
		}
		put("m" + strconv.Itoa(round))
		got.waitFor(t, topic+" m"+strconv.Itoa(round))
		if tok := c.Unsubscribe(topic); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		mqttadapter.StopIdleDelivery(a)
		if mqttadapter.Delivering(a) {
			t.Errorf("round %d: still delivering after the last UNSUBSCRIBE and an idle check", round)
		}
	}
}

// TestPublishNotAnswered: a QoS 1 publish the stream never answers is refused after the
// adapter's timeout (an MQTT 3.1.1 client is disconnected).
func TestPublishNotAnswered(t *testing.T) {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a)
	// No stream, but a subscriber that never answers: the publish is neither stored nor
	// refused by NATS.
	if err := b.JS.DeleteStream(context.Background(), messages.Stream); err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1)
	silent, err := b.Conn.Subscribe("channels.>", func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Unsubscribe()
	c, lost := connectThing1(t, addr, "pub")
	defer c.Disconnect(0)
	tok := c.Publish("channels/"+mt.Channel1+"/messages", 1, false, "unanswered")
	<-got                               // sent to the bus, and unanswered
	mqttadapter.ExpireAt(a, time.Now()) // not yet expired: nothing happens
	if tok.WaitTimeout(0) || !c.IsConnectionOpen() {
		t.Fatalf("PUBLISH answered (%v) or connection closed before the timeout", tok.Error())
	}
	mqttadapter.ExpireAt(a, time.Now().Add(time.Hour))
	<-lost
	if tok.WaitTimeout(0) && tok.Error() == nil {
		t.Errorf("the unanswered PUBLISH was acknowledged")
	}
}
