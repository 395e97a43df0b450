package mqttadapter

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/metrics"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Adapter is the MQTT adapter: a broker, its access hooks and its bus consumer.
type Adapter struct {
	auth       messages.Authorizer // cache in front of the things service
	cache      *access.Cache
	cacheOpts  []access.CacheOption
	js         jetstream.JetStream
	pub        *messages.Publisher
	log        *slog.Logger
	instance   string
	origin     string // random id of this adapter in Message.origin (No Local)
	maxPayload int
	timeout    time.Duration
	now        func() time.Time

	server *mqtt.Server
	follow jetstream.ConsumeContext
	idle   time.Duration // period of the check that stops idle deliveries
	reaper chan struct{} // closed by Close to end that check

	dmu         sync.Mutex
	consume     jetstream.ConsumeContext      // deliveries to subscribers; nil while none
	subscribing atomic.Int64                  // SUBSCRIBE packets being handled
	revoked     func(event map[string]string) // called after an event is handled; for tests

	pmu     sync.Mutex // one delivery at a time: pending belongs to it
	pending *delivery  // the properties of the delivery being published

	mu      sync.Mutex
	things  map[*mqtt.Client]thing  // authenticated connections
	ackers  map[*mqtt.Client]*acker // of the connections that published
	delayed map[string]*time.Timer  // delayed wills by client id (see will.go)
	// sessions are the things of the sessions that outlive their connection, by client id
	// (session.go).
	sessions map[string]thing
	// renumbered maps the identifiers given to a connection's SUBSCRIBE and UNSUBSCRIBE
	// packets back to the client's (packetids.go).
	renumbered map[*mqtt.Client]map[uint16]uint16

	retained     jetstream.KeyValue // the retained messages (retained.go)
	stopRetained context.CancelFunc // ends their watch

	store    *sessionStore // the persistent sessions (persist.go)
	restored int           // sessions the store gave back at start
	nextSeq  atomic.Uint64 // the stream sequence the deliveries continue at; 0: none ran

	listen       listenConfig // where the component listens (component.go)
	serving      atomic.Bool  // from Start to Close: the WebSocket handler takes clients
	removeGauges func()       // ends the metrics' reading of the adapter

	closeOnce sync.Once
	closeErr  error
}

// Option configures an Adapter.
type Option func(*Adapter) error

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) error { a.log = l; return nil }
}

// WithInstance names this adapter instance in its events (default: the host name).
func WithInstance(name string) Option {
	return func(a *Adapter) error { a.instance = name; return nil }
}

// WithMaxPayload sets the largest accepted payload in bytes (default messages.DefaultMaxPayload).
func WithMaxPayload(n int) Option {
	return func(a *Adapter) error {
		if n <= 0 {
			return fmt.Errorf("max payload is %d bytes, want a positive size", n)
		}
		a.maxPayload = n
		return nil
	}
}

// WithAccessCache configures the cache of access answers (TTLs, size; see access.Cache).
func WithAccessCache(opts ...access.CacheOption) Option {
	return func(a *Adapter) error { a.cacheOpts = append(a.cacheOpts, opts...); return nil }
}

// WithClock sets the clock that stamps messages and events (default time.Now); for tests.
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) error { a.now = now; return nil }
}

// New returns an adapter that checks access with auth and stores and receives messages and
// appends events through js. Start it with Start.
func New(auth messages.Authorizer, js jetstream.JetStream, opts ...Option) (*Adapter, error) {
	a := &Adapter{
		js:         js,
		pub:        messages.NewPublisher(js),
		log:        slog.New(slog.DiscardHandler),
		maxPayload: messages.DefaultMaxPayload,
		timeout:    10 * time.Second,
		idle:       10 * time.Second,
		now:        time.Now,
		things:     map[*mqtt.Client]thing{},
		ackers:     map[*mqtt.Client]*acker{},
		delayed:    map[string]*time.Timer{},
		sessions:   map[string]thing{},
		renumbered: map[*mqtt.Client]map[uint16]uint16{},
		origin:     nuid.Next(),
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, fmt.Errorf("configuring the MQTT adapter: %w", err)
		}
	}
	cache, err := access.NewCache(auth, a.cacheOpts...)
	if err != nil {
		return nil, fmt.Errorf("configuring the MQTT adapter: %w", err)
	}
	a.auth, a.cache = cache, cache
	if a.instance == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("configuring the MQTT adapter: naming the instance: %w", err)
		}
		a.instance = h
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// Room for the topic and properties around the largest payload; bigger packets end the
	// connection before they are read into memory.
	caps.MaximumPacketSize = uint32(a.maxPayload + 64<<10)
	// No expiry unless a publisher set one (the default stamps every message with a day), and
	// no forced drop of queued messages by age: sessions bound them (session.go).
	caps.MaximumMessageExpiryInterval = 0
	caps.MaximumInflight = MaxSessionMessages
	caps.MaximumSessionExpiryInterval = MaxSessionExpiry
	a.server = mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       a.log,
		InlineClient: true, // deliveries from the bus are published by the inline client
	})
	if err := a.server.AddHook(&hook{a: a}, nil); err != nil {
		return nil, fmt.Errorf("configuring the MQTT adapter: %w", err)
	}
	return a, nil
}

// Start follows the things events and serves MQTT on lns (and on the WebSocket handler)
// until Close. It returns once both are running. Deliveries from the bus start with the
// first subscription (startDelivery).
func (a *Adapter) Start(ctx context.Context, lns ...Listener) error {
	// Each JetStream call is retried while a cluster elects a stream's leader (bus.Retry).
	evs, err := events.FollowThings(ctx, a.js, a.log)
	if err != nil {
		return err
	}
	// A consumer error may mean missed events: the cache then forgets every answer.
	a.follow, err = evs.Consume(a.revoke, jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) { a.cache.Flush() }))
	if err != nil {
		return fmt.Errorf("following %s: %w", events.ThingsSubject, err)
	}
	if err := bus.Retry(ctx, a.log, "watching the retained messages", func(context.Context) error { return a.watchRetained(ctx) }); err != nil {
		a.follow.Stop()
		return err
	}
	if err := a.addListeners(lns); err != nil {
		a.follow.Stop()
		return fmt.Errorf("adding the MQTT listeners: %w", err)
	}
	if err := a.openSessionStore(ctx); err != nil {
		a.follow.Stop()
		return err
	}
	if err := a.server.Serve(); err != nil {
		a.follow.Stop()
		return fmt.Errorf("serving MQTT: %w", err)
	}
	if a.restored > 0 {
		// The restored sessions' subscriptions get what was stored since the last
		// shutdown's deliveries.
		err := bus.Retry(ctx, a.log, "resuming the deliveries", func(context.Context) error { return a.startDeliveryAt(a.store.resumeSeq()) })
		if err != nil {
			a.follow.Stop()
			return err
		}
		a.log.Info("restored MQTT sessions", "sessions", a.restored)
	}
	a.serving.Store(true)
	a.removeGauges = metrics.AddMQTTSource(a.gauges)
	a.reaper = make(chan struct{})
	go func() {
		t := time.NewTicker(a.idle)
		defer t.Stop()
		// Publishes the stream does not answer are refused after the timeout, checked
		// every second.
		e := time.NewTicker(time.Second)
		defer e.Stop()
		for {
			select {
			case <-t.C:
				a.stopIdleDelivery()
			case now := <-e.C:
				a.mu.Lock()
				ackers := make([]*acker, 0, len(a.ackers))
				for _, k := range a.ackers {
					ackers = append(ackers, k)
				}
				a.mu.Unlock()
				for _, k := range ackers {
					k.expire(now)
				}
			case <-a.reaper:
				return
			}
		}
	}()
	return nil
}

// Deliveries: one ordered consumer of the MESSAGES stream (new messages only) feeds the
// broker, but only while some session holds a subscription; with none, every stored message
// would be fetched, decoded and matched against no subscriber. It is started before the
// first granted SUBSCRIBE is acknowledged (so that every message stored after a SUBACK is
// delivered), and stopped by a check every idle period (10 s) that finds no session with a
// subscription and no SUBSCRIBE being handled.

// startDelivery starts the consumer that feeds the broker if it is not running.
func (a *Adapter) startDelivery() error { return a.startDeliveryAt(0) }

// startDeliveryAt starts the consumer at stream sequence seq; 0: after the last stored.
func (a *Adapter) startDeliveryAt(seq uint64) error {
	a.dmu.Lock()
	defer a.dmu.Unlock()
	if a.consume != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	// From the sequence after the last stored message, not "new messages": an ordered
	// consumer that is reset (missed heartbeats on a busy server) before its first message
	// is created again with its original start, and "new" would then skip what was stored
	// in between.
	st, err := a.js.Stream(ctx, messages.Stream)
	if err != nil {
		return fmt.Errorf("consuming stream %s: %w", messages.Stream, err)
	}
	cons, err := a.js.OrderedConsumer(ctx, messages.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: messages.Filters,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    cmp.Or(seq, st.CachedInfo().State.LastSeq+1),
	})
	if err != nil {
		return fmt.Errorf("consuming stream %s: %w", messages.Stream, err)
	}
	a.nextSeq.Store(cmp.Or(seq, st.CachedInfo().State.LastSeq+1))
	if a.consume, err = cons.Consume(a.deliver); err != nil {
		return fmt.Errorf("consuming stream %s: %w", messages.Stream, err)
	}
	return nil
}

// stopIdleDelivery stops the consumer that feeds the broker when no session has a
// subscription and no SUBSCRIBE is being handled (one that is holds subscribing above 0
// from before its access check until its subscriptions are in the sessions).
func (a *Adapter) stopIdleDelivery() {
	a.dmu.Lock()
	defer a.dmu.Unlock()
	if a.consume == nil || a.subscribing.Load() > 0 {
		return
	}
	for _, cl := range a.server.Clients.GetAll() {
		if cl.State.Subscriptions.Len() > 0 {
			return
		}
	}
	a.consume.Stop()
	a.consume = nil
	a.nextSeq.Store(0) // no subscription: nothing to resume at the next start
}

// delivering reports whether the consumer that feeds the broker runs.
func (a *Adapter) delivering() bool {
	a.dmu.Lock()
	defer a.dmu.Unlock()
	return a.consume != nil
}

// revoke applies one things event to the current subscriptions and connections.
func (a *Adapter) revoke(msg jetstream.Msg) {
	var ev map[string]string
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		a.cache.Flush()
		a.log.Error("ignoring an undecodable things event (access cache flushed)", "error", err)
		return
	}
	// The cache first: a client whose subscription is dropped below and who subscribes
	// again must be asked afresh, not answered from a grant the event ended.
	a.cache.Apply(ev)
	var dropThing, dropChannel string
	var disconnect bool
	switch ev["operation"] {
	case "thing.disconnect":
		dropThing, dropChannel = ev["thing_id"], ev["chan_id"]
	case "channel.remove":
		dropChannel = ev["id"]
	case "thing.remove":
		dropThing, disconnect = ev["id"], true
	default:
		return
	}
	for _, cl := range a.server.Clients.GetAll() {
		if cl.Net.Inline || (dropThing != "" && string(cl.Properties.Username) != dropThing) {
			continue
		}
		for filter := range cl.State.Subscriptions.GetAll() {
			if dropChannel != "" {
				if channel, _, err := messages.ParseTopic(unshared(filter), true); err != nil || channel != dropChannel {
					continue
				}
			}
			if a.server.Topics.Unsubscribe(filter, cl.ID) {
				atomic.AddInt64(&a.server.Info.Subscriptions, -1)
			}
			cl.State.Subscriptions.Delete(filter)
			a.log.Info("subscription revoked", "client", cl.ID, "thing", string(cl.Properties.Username), "filter", filter, "operation", ev["operation"])
		}
		if disconnect && !cl.Closed() {
			_ = a.server.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
	if a.revoked != nil {
		a.revoked(ev)
	}
}

// Close stops the consumers, disconnects every client and closes the listener. Calls after
// the first return its result.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.close() })
	return a.closeErr
}

func (a *Adapter) close() error {
	a.serving.Store(false)
	if a.reaper != nil {
		close(a.reaper)
	}
	if a.removeGauges != nil {
		a.removeGauges()
	}
	a.dmu.Lock()
	if a.consume != nil {
		a.consume.Stop()
		a.consume = nil
	}
	a.dmu.Unlock()
	a.pmu.Lock() // the delivery in progress, if any, is over
	a.pmu.Unlock()
	if a.follow != nil {
		a.follow.Stop()
	}
	if a.stopRetained != nil {
		a.stopRetained()
	}
	a.mu.Lock()
	for id, tm := range a.delayed {
		tm.Stop()
		delete(a.delayed, id)
	}
	a.mu.Unlock()
	err := a.server.Close()
	if a.store != nil {
		a.store.snapshot(a.nextSeq.Load())
	}
	return err
}

// deliver publishes one stored message to the MQTT subscribers of its topic.
func (a *Adapter) deliver(msg jetstream.Msg) {
	// One delivery at a time; Close waits for the one in progress and none follows it (the
	// next start resumes at the one after, see persist.go).
	a.pmu.Lock()
	defer a.pmu.Unlock()
	if !a.serving.Load() {
		return
	}
	if md, err := msg.Metadata(); err == nil {
		a.nextSeq.Store(md.Sequence.Stream + 1)
	}
	var m messagingv1.Message
	if err := proto.Unmarshal(msg.Data(), &m); err != nil {
		a.log.Error("dropping an undecodable message from the bus", "subject", msg.Subject(), "error", err)
		return
	}
	topic := messages.Topic(m.GetChannel(), m.GetSubtopic())
	d, ok := deliveryOf(&m, a.now())
	if client, ok := strings.CutPrefix(m.GetOrigin(), a.origin+"/"); ok {
		d.origin = client // published through this adapter: No Local applies
	}
	if !ok {
		return // expired while stored
	}
	// The broker's inline publish cannot carry properties: OnPublish applies a.pending to
	// it, synchronously, within Publish.
	a.pending = &d
	// The broker sends each subscriber the lower of this and its subscription's QoS.
	err := a.server.Publish(topic, m.GetPayload(), m.GetRetain(), byte(min(m.GetQos(), 2)))
	a.pending = nil
	if err != nil {
		a.log.Error("delivering to MQTT subscribers", "topic", topic, "error", err)
	}
}

// ask asks for access on behalf of the connection cl; the answer's status, or
// STATUS_UNSPECIFIED when the question could not be answered.
func (a *Adapter) ask(cl *mqtt.Client, channel string, action thingsv1.Action) thingsv1.AccessResponse_Status {
	a.mu.Lock()
	t, ok := a.things[cl]
	if !ok && cl.Closed() {
		t, ok = a.sessions[cl.ID] // a delivery to an offline session
	}
	a.mu.Unlock()
	if !ok {
		return thingsv1.AccessResponse_STATUS_UNAUTHENTICATED
	}
	// No deadline of its own (a timer per question, even one the cache answers): a
	// question that reaches the things service waits at most access.Timeout.
	resp, err := a.auth.Authorize(context.Background(), t.request(channel, action))
	if err != nil {
		a.log.Error("asking access", "thing", t.id, "channel", channel, "error", err)
		return thingsv1.AccessResponse_STATUS_UNSPECIFIED
	}
	return resp.GetStatus()
}

func (a *Adapter) event(t thing, eventType string) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	err := events.Publish(ctx, a.js, events.MQTTSubject, map[string]string{
		"thing_id":   t.id,
		"timestamp":  strconv.FormatInt(a.now().UnixNano(), 10),
		"event_type": eventType,
		"instance":   a.instance,
	})
	if err != nil {
		a.log.Error("appending an MQTT event", "thing", t.id, "event_type", eventType, "error", err)
	}
}
