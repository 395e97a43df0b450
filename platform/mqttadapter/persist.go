package mqttadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
)

// Persistent sessions. The sessions that outlive their connection (clean session 0, or an
// MQTT 5 session expiry) are written to the key-value bucket cairn_sessions, under the
// adapter instance's name, so that a restarted instance (the all-in-one after a restart or
// a crash) takes them up again:
//
//	<instance>.c.<client>           the client: its thing, protocol version, session expiry
//	<instance>.s.<client>.<filter>  each subscription
//	<instance>.m.<client>.<id>      each message queued for it while it was offline, and at
//	                                shutdown each one sent and not yet acknowledged
//	<instance>.seq                  at shutdown, the stream sequence the deliveries continue at
//
// (<instance>, <client> and <filter> in unpadded base64url). At start the broker loads them,
// the deliveries resume at the stored sequence, and the restored sessions' deliveries are
// checked as their thing, as the adapter vouches for it (it authenticated when it made the
// session). A client that reconnects finds its session present, its subscriptions, and what
// was queued. A session is not moved: a client that reconnects to another instance of a
// cluster starts a new session there. A crash loses what was sent to a connected client and
// not yet acknowledged (its client resends nothing; QoS 1 and 2 are redelivered only from a
// session's queue).

// sessionStore persists the sessions of one adapter instance; a broker hook.
type sessionStore struct {
	mqtt.HookBase
	a      *Adapter
	kv     jetstream.KeyValue
	prefix string // the instance's key prefix, with its trailing dot

	mu      sync.Mutex
	clients map[string]bool            // clients with records in the bucket
	queued  map[string]map[uint16]bool // their stored messages, by packet id
}

var b64 = base64.RawURLEncoding

func newSessionStore(a *Adapter, kv jetstream.KeyValue) *sessionStore {
	return &sessionStore{a: a, kv: kv, prefix: b64.EncodeToString([]byte(a.instance)) + ".",
		clients: map[string]bool{}, queued: map[string]map[uint16]bool{}}
}

func (s *sessionStore) ID() string { return "cairn-sessions" }

func (s *sessionStore) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablished, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnQosPublish,
		mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.OnDisconnect, mqtt.OnClientExpired,
		mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages:
		return true
	}
	return false
}

// persistent reports whether cl's session outlives its connection.
func persistent(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func (s *sessionStore) clientKey(id string) string {
	return s.prefix + "c." + b64.EncodeToString([]byte(id))
}
func (s *sessionStore) subKey(id, filter string) string {
	return s.prefix + "s." + b64.EncodeToString([]byte(id)) + "." + b64.EncodeToString([]byte(filter))
}
func (s *sessionStore) msgKey(id string, pid uint16) string {
	return s.prefix + "m." + b64.EncodeToString([]byte(id)) + "." + strconv.Itoa(int(pid))
}

func (s *sessionStore) put(key string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
		_, err = s.kv.Put(ctx, key, b)
		cancel()
	}
	if err != nil {
		s.a.log.Error("persisting an MQTT session", "key", key, "error", err)
	}
}

func (s *sessionStore) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if !persistent(cl) {
		s.forget(cl.ID) // a clean start ends any session the client had
		return
	}
	s.mu.Lock()
	s.clients[cl.ID] = true
	s.mu.Unlock()
	s.put(s.clientKey(cl.ID), storage.Client{
		ID: cl.ID, Username: cl.Properties.Username, Listener: cl.Net.Listener, Clean: cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval:     cl.Properties.Props.SessionExpiryInterval,
			SessionExpiryIntervalFlag: cl.Properties.Props.SessionExpiryIntervalFlag,
		},
	})
}

func (s *sessionStore) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if !persistent(cl) {
		return
	}
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] <= 2 {
			s.put(s.subKey(cl.ID, f.Filter), storage.Subscription{Client: cl.ID, Filter: f.Filter, Qos: codes[i],
				Identifier: f.Identifier, RetainHandling: f.RetainHandling, RetainAsPublished: f.RetainAsPublished, NoLocal: f.NoLocal})
		}
	}
}

func (s *sessionStore) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if !persistent(cl) {
		return
	}
	for _, f := range pk.Filters {
		s.purge(s.subKey(cl.ID, f.Filter))
	}
}

// OnQosPublish stores a message queued for an offline session (a connected client's are
// stored at shutdown, by Close).
func (s *sessionStore) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || !persistent(cl) {
		return
	}
	if cl.IsTakenOver() && resends == 0 {
		// Queued on a session in the instant its client reconnects: after the broker copied
		// the queue to the new connection, before it registered it. Hand it over.
		go s.a.handOver(cl, pk)
		return
	}
	if cl.Closed() {
		s.store(cl.ID, pk)
	}
}

func (s *sessionStore) store(id string, pk packets.Packet) {
	s.mu.Lock()
	if s.queued[id] == nil {
		s.queued[id] = map[uint16]bool{}
	}
	s.queued[id][pk.PacketID] = true
	s.mu.Unlock()
	s.put(s.msgKey(id, pk.PacketID), storage.Message{
		Client: id, Origin: pk.Origin, TopicName: pk.TopicName, Payload: pk.Payload, FixedHeader: pk.FixedHeader,
		Created: pk.Created, PacketID: pk.PacketID,
		Properties: storage.MessageProperties{
			PayloadFormat: pk.Properties.PayloadFormat, PayloadFormatFlag: pk.Properties.PayloadFormatFlag,
			MessageExpiryInterval: pk.Properties.MessageExpiryInterval, ContentType: pk.Properties.ContentType,
			ResponseTopic: pk.Properties.ResponseTopic, CorrelationData: pk.Properties.CorrelationData,
			SubscriptionIdentifier: pk.Properties.SubscriptionIdentifier, User: pk.Properties.User,
		},
	})
}

func (s *sessionStore) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	s.unqueue(cl.ID, pk.PacketID)
}

// OnQosDropped forgets a dropped message, but not the queue a reconnection took over (the
// broker clears the old connection's copy of it).
func (s *sessionStore) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if !cl.IsTakenOver() {
		s.unqueue(cl.ID, pk.PacketID)
	}
}

// unqueue deletes a stored message once it is acknowledged or dropped.
func (s *sessionStore) unqueue(id string, pid uint16) {
	s.mu.Lock()
	stored := s.queued[id][pid]
	delete(s.queued[id], pid)
	s.mu.Unlock()
	if stored {
		s.purge(s.msgKey(id, pid))
	}
}

func (s *sessionStore) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if expire && !cl.IsTakenOver() {
		s.forget(cl.ID)
	}
}

func (s *sessionStore) OnClientExpired(cl *mqtt.Client) { s.forget(cl.ID) }

// forget deletes every record of client id.
func (s *sessionStore) forget(id string) {
	s.mu.Lock()
	known := s.clients[id]
	delete(s.clients, id)
	delete(s.queued, id)
	s.mu.Unlock()
	if !known {
		return
	}
	enc := b64.EncodeToString([]byte(id))
	keys, err := s.keys(s.prefix+"s."+enc+".*", s.prefix+"m."+enc+".*")
	if err != nil {
		s.a.log.Error("forgetting an MQTT session", "client", id, "error", err)
	}
	for _, k := range append(keys, s.clientKey(id)) {
		s.purge(k)
	}
}

func (s *sessionStore) purge(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
	defer cancel()
	if err := s.kv.Purge(ctx, key); err != nil {
		s.a.log.Error("deleting an MQTT session record", "key", key, "error", err)
	}
}

// keys lists the instance's keys matching filters (none when the bucket has no key).
func (s *sessionStore) keys(filters ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
	defer cancel()
	l, err := s.kv.ListKeysFiltered(ctx, filters...)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, ctx.Err()
}

// load reads the records of kind ("c", "s" or "m"), retried while JetStream does not answer.
func load[T any](s *sessionStore, kind string) (out []T, err error) {
	err = bus.Retry(context.Background(), s.a.log, "reading the stored MQTT sessions", func(context.Context) (err error) {
		out, err = loadOnce[T](s, kind)
		return err
	})
	return out, err
}

func loadOnce[T any](s *sessionStore, kind string) ([]T, error) {
	keys, err := s.keys(s.prefix + kind + ".>")
	if err != nil {
		return nil, fmt.Errorf("reading the stored MQTT sessions: %w", err)
	}
	var out []T
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
		e, err := s.kv.Get(ctx, k)
		cancel()
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading the stored MQTT session record %s: %w", k, err)
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			s.a.log.Error("ignoring an undecodable MQTT session record", "key", k, "error", err)
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// StoredClients gives the broker the instance's sessions, and the adapter their things.
func (s *sessionStore) StoredClients() ([]storage.Client, error) {
	cs, err := load[storage.Client](s, "c")
	if err != nil {
		return nil, err
	}
	s.a.mu.Lock()
	s.mu.Lock()
	for _, c := range cs {
		s.clients[c.ID] = true
		s.a.sessions[c.ID] = thing{id: string(c.Username)} // no key: vouched for (see thing.request)
	}
	s.mu.Unlock()
	s.a.mu.Unlock()
	s.a.restored = len(cs)
	return cs, nil
}

func (s *sessionStore) StoredSubscriptions() ([]storage.Subscription, error) {
	return load[storage.Subscription](s, "s")
}

func (s *sessionStore) StoredInflightMessages() ([]storage.Message, error) {
	ms, err := load[storage.Message](s, "m")
	s.mu.Lock()
	for _, m := range ms {
		if s.queued[m.Client] == nil {
			s.queued[m.Client] = map[uint16]bool{}
		}
		s.queued[m.Client][m.PacketID] = true
	}
	s.mu.Unlock()
	return ms, err
}

// snapshot stores, at shutdown, what the persistent sessions have in flight and not stored
// yet, and the stream sequence the deliveries continue at (0: no delivery ran).
func (s *sessionStore) snapshot(nextSeq uint64) {
	for id, cl := range s.a.server.Clients.GetAll() {
		if cl.Net.Inline || !persistent(cl) {
			continue
		}
		for _, pk := range cl.State.Inflight.GetAll(false) {
			s.mu.Lock()
			done := s.queued[id][pk.PacketID]
			s.mu.Unlock()
			if !done && pk.FixedHeader.Type == packets.Publish {
				s.store(id, pk)
			}
		}
	}
	if nextSeq == 0 { // no delivery ran: no position to resume from
		s.purge(s.prefix + "seq")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
	defer cancel()
	if _, err := s.kv.Put(ctx, s.prefix+"seq", []byte(strconv.FormatUint(nextSeq, 10))); err != nil {
		s.a.log.Error("persisting the MQTT delivery position", "error", err)
	}
}

// resumeSeq returns the stream sequence stored at the last shutdown, or 0 (none).
func (s *sessionStore) resumeSeq() uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), s.a.timeout)
	defer cancel()
	e, err := s.kv.Get(ctx, s.prefix+"seq")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(e.Value())), 10, 64)
	return n
}

// openSessionStore opens the bucket and adds the store to the broker; before Serve.
func (a *Adapter) openSessionStore(ctx context.Context) error {
	var kv jetstream.KeyValue
	err := bus.Retry(ctx, a.log, "opening "+bus.SessionsBucket, func(context.Context) (err error) {
		kv, err = a.js.KeyValue(ctx, bus.SessionsBucket)
		return err
	})
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", bus.SessionsBucket, err)
	}
	a.store = newSessionStore(a, kv)
	return a.server.AddHook(a.store, nil)
}
