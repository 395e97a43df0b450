package mqttadapter

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Sessions. A client that connects with clean session 0 (MQTT 3.1.1) or a session expiry
// (MQTT 5) keeps its session when its connection ends: its subscriptions stay, and the
// messages published meanwhile at QoS 1 or 2 are queued and sent when it reconnects with the
// same client id, each after the same access check as a delivery to a connected client
// (the adapter remembers the session's thing, sessions). Bounds: MaxSessionMessages queued
// per session (more are dropped, counted by the broker), and a session lives at most
// MaxSessionExpiry after its connection ended (MQTT 5 clients may ask for less; 3.1.1
// sessions get the maximum); a queued message whose MQTT 5 message expiry passes is dropped.
//
// The broker library resends a reconnected session's queue sorted by the second each message
// was queued in, so messages queued within the same second may arrive in another order.
//
// Sessions outlive a restart of their adapter instance (the all-in-one, or the mqtt
// service with the same -instance name): they are persisted in JetStream (persist.go). They
// do not move: a client that reconnects to another instance of a cluster starts a new
// session there; CONNACK's session present flag says which happened. A message queued in
// the very instant its client reconnects is handed over to the new connection (the broker
// library would leave it on the old one); it may then arrive twice, which QoS 1 allows.

// Session bounds.
const (
	// MaxSessionMessages is how many QoS 1 and 2 messages a session queues.
	MaxSessionMessages = 1000
	// MaxSessionExpiry is the longest a session outlives its connection, in seconds (a day).
	MaxSessionExpiry = 24 * 60 * 60
)

// endSession forgets the session of a connection that ended, unless it persists (expire
// false) or another connection took it over.
func (a *Adapter) endSession(cl *mqtt.Client, expire bool) {
	if !expire || cl.IsTakenOver() {
		return
	}
	a.mu.Lock()
	delete(a.sessions, cl.ID)
	a.mu.Unlock()
}

// OnClientExpired forgets a session the broker expired.
func (h *hook) OnClientExpired(cl *mqtt.Client) {
	h.a.mu.Lock()
	delete(h.a.sessions, cl.ID)
	h.a.mu.Unlock()
}

// handOver sends pk, queued on old after a new connection took old's session over, to that
// connection once the broker registered it (at most a few seconds later): the broker library
// routes a delivery in that instant to the old connection, where it would be lost.
func (a *Adapter) handOver(old *mqtt.Client, pk packets.Packet) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		cur, ok := a.server.Clients.Get(old.ID)
		if !ok {
			return // the session ended
		}
		if cur == old {
			continue
		}
		if in, ok := cur.State.Inflight.Get(pk.PacketID); ok && in.Created == pk.Created && in.TopicName == pk.TopicName {
			return // queued before the broker copied the queue: the new connection has it
		}
		id, err := cur.NextPacketID()
		if err != nil {
			a.log.Warn("dropping a delivery to a reconnecting session: no packet id free", "client", old.ID)
			return
		}
		pk.PacketID, pk.FixedHeader.Dup = uint16(id), false
		cur.State.Inflight.Set(pk)
		if a.store != nil && persistent(cur) && cur.Closed() {
			a.store.store(cur.ID, pk)
		}
		if !cur.Closed() {
			_ = cur.WritePacket(pk)
		}
		return
	}
	a.log.Warn("dropping a delivery to a session whose reconnection did not complete", "client", old.ID)
}
