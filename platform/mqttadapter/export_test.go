package mqttadapter

import (
	"testing"
	"time"
)

// OnRevoked sets a function called after each things event the adapter applied; set it
// before Start.
func OnRevoked(a *Adapter, f func(event map[string]string)) { a.revoked = f }

// StopIdleDelivery runs one check of the idle deliveries now.
func StopIdleDelivery(a *Adapter) { a.stopIdleDelivery() }

// Delivering reports whether the consumer that feeds subscribers runs.
func Delivering(a *Adapter) bool { return a.delivering() }

// ExpireAt runs the check for unanswered publishes as if it were now.
func ExpireAt(a *Adapter, now time.Time) {
	a.mu.Lock()
	var ackers []*acker
	for _, k := range a.ackers {
		ackers = append(ackers, k)
	}
	a.mu.Unlock()
	for _, k := range ackers {
		k.expire(now)
	}
}

// Subscriptions counts the subscriptions of every session.
func Subscriptions(a *Adapter) int {
	n := 0
	for _, cl := range a.server.Clients.GetAll() {
		n += cl.State.Subscriptions.Len()
	}
	return n
}

// Subscribed reports whether the session of clientID has a subscription.
func Subscribed(a *Adapter, clientID string) bool {
	cl, ok := a.server.Clients.Get(clientID)
	return ok && !cl.Closed() && cl.State.Subscriptions.Len() > 0
}

// Offline reports whether the broker holds client id's session with its connection closed.
func Offline(a *Adapter, id string) bool {
	cl, ok := a.server.Clients.Get(id)
	return ok && cl.Closed()
}

// WaitQueued waits (at most 20 s) until client id's offline session holds n messages.
func WaitQueued(t testing.TB, a *Adapter, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cl, ok := a.server.Clients.Get(id)
		if ok && cl.Closed() && cl.State.Inflight.Len() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s does not hold %d queued messages within 20s", id, n)
		}
	}
}
