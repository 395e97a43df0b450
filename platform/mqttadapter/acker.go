package mqttadapter

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/messages"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// maxInFlight bounds the publishes of one connection sent to the stream and not yet
// acknowledged; the connection's next PUBLISH is read once there is room.
const maxInFlight = 256

// errClosed refuses a publish of a connection that is gone.
var errClosed = errors.New("the connection is closed")

// acker stores one connection's QoS 0 and 1 publishes and answers them in the order they
// were received, as MQTT requires of PUBACKs. Each publish is sent to the stream at once
// (messages.Publisher.Send) with a reply subject of the acker's own (its inbox and a token,
// counting up); the acknowledgements come to the acker's subscription, and every publish at
// the head of the queue that is acknowledged is answered: a PUBACK (QoS 1), all that are
// ready in one write. A publish the stream did not store (an error, no stream, no answer
// within the adapter's timeout) is refused like a synchronous one: "server unavailable" in
// the PUBACK (MQTT 5) or the end of the connection (MQTT 3.1.1); QoS 0 losses are logged.
type acker struct {
	a     *Adapter
	cl    *mqtt.Client
	inbox string // acknowledgements come to inbox + token
	sub   *nats.Subscription
	slots chan struct{} // a slot per publish in flight
	stop  chan struct{} // closed when the connection ends
	once  sync.Once

	wmu sync.Mutex // held while answering, so that answers are written in order

	mu    sync.Mutex
	next  uint64    // token of the next publish
	queue []pending // in flight, tokens next-len(queue) .. next-1, oldest first
	acks  []byte    // PUBACKs ready to be written
}

// pending is one publish in flight.
type pending struct {
	id      uint16 // MQTT packet id
	qos     byte
	channel string
	sent    time.Time
	done    bool
	err     error
}

// ackerOf returns the acker of cl's publishes, creating it on first use.
func (a *Adapter) ackerOf(cl *mqtt.Client) (*acker, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.ackers[cl]; ok {
		return k, nil
	}
	k := &acker{a: a, cl: cl, inbox: nats.NewInbox() + ".", slots: make(chan struct{}, maxInFlight),
		stop: make(chan struct{}), next: 1}
	sub, err := a.js.Conn().Subscribe(k.inbox+"*", k.handle)
	if err != nil {
		return nil, fmt.Errorf("subscribing to the stream's acknowledgements: %w", err)
	}
	k.sub = sub
	a.ackers[cl] = k
	return k, nil
}

// send stores m, a publish with the packet id id at qos (0 or 1), answering it once the
// stream acknowledged it. It waits while maxInFlight publishes are in flight.
func (k *acker) send(m *messagingv1.Message, id uint16, qos byte) {
	select {
	case k.slots <- struct{}{}:
	case <-k.stop:
		return
	}
	k.mu.Lock()
	token := k.next
	k.next++
	k.queue = append(k.queue, pending{id: id, qos: qos, channel: m.GetChannel(), sent: time.Now()})
	k.mu.Unlock()
	if err := k.a.pub.Send(m, k.inbox+strconv.FormatUint(token, 10)); err != nil {
		k.resolve(token, err, true)
	}
}

// handle receives one acknowledgement from the stream.
func (k *acker) handle(msg *nats.Msg) {
	token, err := strconv.ParseUint(msg.Subject[len(k.inbox):], 10, 64)
	if err != nil {
		return
	}
	// While more acknowledgements wait in the subscription, the PUBACKs are written with
	// theirs: one write for all that are ready. (The count includes this message until
	// the handler returns.)
	pending, _, _ := k.sub.Pending()
	more := pending - 1
	if messages.IsNoResponders(msg) {
		k.resolve(token, jetstream.ErrNoStreamResponse, more <= 0)
		return
	}
	ack, err := messages.DecodeAck(msg.Data)
	if err == nil {
		err = messages.CheckAck(ack)
	}
	k.resolve(token, err, more <= 0)
}

// expire refuses the oldest publish if the stream has not answered it within the adapter's
// timeout (its answer is then ignored).
func (k *acker) expire(now time.Time) {
	k.mu.Lock()
	var token uint64
	if len(k.queue) > 0 && !k.queue[0].done && now.Sub(k.queue[0].sent) > k.a.timeout {
		token = k.next - uint64(len(k.queue))
	}
	k.mu.Unlock()
	if token != 0 {
		k.resolve(token, fmt.Errorf("no acknowledgement from stream %s within %v", messages.Stream, k.a.timeout), true)
	}
}

// resolve records the outcome of publish token and answers every finished publish at the
// head of the queue; the PUBACKs are written now if flush is set, else with a later call's.
func (k *acker) resolve(token uint64, err error, flush bool) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	k.mu.Lock()
	first := k.next - uint64(len(k.queue))
	if token < first || token >= k.next || k.queue[token-first].done {
		k.mu.Unlock()
		return // answered already (expired), or unknown
	}
	k.queue[token-first].done, k.queue[token-first].err = true, err
	n := 0
	for n < len(k.queue) && k.queue[n].done {
		n++
	}
	ready := k.queue[:n:n]
	k.queue = k.queue[n:]
	if len(k.queue) == 0 {
		k.queue = k.queue[:0:0] // let the array go rather than grow behind the head forever
	}
	k.mu.Unlock()
	for _, p := range ready {
		<-k.slots
		k.answer(p)
	}
	if flush {
		k.flush()
	}
}

// answer answers one finished publish: a PUBACK (QoS 1) is queued in k.acks; a refusal is
// sent after the PUBACKs before it.
func (k *acker) answer(p pending) {
	if p.err != nil {
		notStored()
		k.a.log.Error("storing an MQTT publish", "client", k.cl.ID, "channel", p.channel, "error", p.err)
	} else {
		stored(k.cl.Net.Listener, p.sent)
	}
	if p.qos == 0 {
		return
	}
	if p.err == nil {
		// PUBACK, success: the same four bytes in MQTT 3.1.1 and 5 (a remaining length of 2
		// means reason code 0, success, and no properties).
		k.acks = append(k.acks, packets.Puback<<4, 2, byte(p.id>>8), byte(p.id))
		return
	}
	k.flush()
	if k.cl.Properties.ProtocolVersion == 5 {
		code := packets.ErrServerUnavailable
		_ = k.cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback},
			PacketID: p.id, ReasonCode: code.Code, Properties: packets.Properties{ReasonString: code.Reason}})
	} else {
		_ = k.a.server.DisconnectClient(k.cl, packets.ErrServerUnavailable)
	}
}

// flush writes the queued PUBACKs in one write. It writes to the connection under the
// client's lock, as the broker's own WritePacket does, bypassing WritePacket only to send
// many PUBACKs in one system call instead of one each.
func (k *acker) flush() {
	if len(k.acks) == 0 {
		return
	}
	if !k.cl.Closed() {
		k.cl.Lock()
		if k.cl.Net.Conn != nil {
			_, _ = k.cl.Net.Conn.Write(k.acks)
		}
		k.cl.Unlock()
	}
	k.acks = k.acks[:0]
}

// close stops the acker: publishes not yet acknowledged get no PUBACK (the client is gone
// and sends them again in its next session, as QoS 1 allows).
func (k *acker) close() {
	k.once.Do(func() {
		close(k.stop)
		_ = k.sub.Unsubscribe()
	})
}
