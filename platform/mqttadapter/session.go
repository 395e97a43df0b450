package mqttadapter

import (
	mqtt "github.com/mochi-mqtt/server/v2"
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
// What is not guaranteed: sessions live in the memory of the adapter instance that held the
// connection. A restart of the adapter (or of the all-in-one) ends them, and a client that
// reconnects to another instance of a cluster starts a new session there; CONNACK's session
// present flag says which happened.

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
