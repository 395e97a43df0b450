package mqttadapter

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

func TestDeliveryExpiry(t *testing.T) {
	created := time.Unix(1700000000, 0)
	m := &messagingv1.Message{Created: created.UnixNano(), MessageExpiry: 60}
	for _, tc := range []struct {
		age       time.Duration
		remaining int64
		ok        bool
	}{{0, 60, true}, {59500 * time.Millisecond, 1, true}, {60 * time.Second, 0, false}, {time.Hour, 0, false}} {
		d, ok := deliveryOf(m, created.Add(tc.age))
		if ok != tc.ok || d.remaining != tc.remaining {
			t.Errorf("after %s: remaining %d ok %v, want %d %v", tc.age, d.remaining, ok, tc.remaining, tc.ok)
		}
	}
	pk := packets.Packet{Created: 100}
	applyDelivery(&pk, delivery{})
	if pk.Expiry != 0 || pk.Properties.MessageExpiryInterval != 0 {
		t.Errorf("no expiry set: packet expiry %d interval %d, want 0 and 0", pk.Expiry, pk.Properties.MessageExpiryInterval)
	}
	d, _ := deliveryOf(m, created.Add(10*time.Second))
	applyDelivery(&pk, d)
	if pk.Expiry != 150 || pk.Properties.MessageExpiryInterval != 50 {
		t.Errorf("expiry 60 after 10s: packet expiry %d interval %d, want 150 and 50", pk.Expiry, pk.Properties.MessageExpiryInterval)
	}
}
