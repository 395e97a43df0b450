package mqttadapter

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Packet identifiers are per direction in MQTT, but the broker keeps one table of in-flight
// packets per session and refuses a SUBSCRIBE or UNSUBSCRIBE whose identifier equals one of
// its own outgoing PUBLISHes ("packet identifier in use"). A client that reconnects to a
// present session and subscribes again (as mosquitto_sub does) while its queued messages
// are being resent would be refused. So such a packet is renumbered on the way in to a free
// identifier, and its acknowledgement renumbered back on the way out.

// OnPacketRead renumbers a SUBSCRIBE or UNSUBSCRIBE whose identifier is in flight outward.
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if t := pk.FixedHeader.Type; t != packets.Subscribe && t != packets.Unsubscribe {
		return pk, nil
	}
	if _, used := cl.State.Inflight.Get(pk.PacketID); !used {
		return pk, nil
	}
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.renumbered[cl]
	if m == nil {
		m = map[uint16]uint16{}
		a.renumbered[cl] = m
	}
	for id := uint16(65535); id > 0; id-- {
		if _, used := cl.State.Inflight.Get(id); used {
			continue
		}
		if _, taken := m[id]; taken {
			continue
		}
		m[id] = pk.PacketID
		pk.PacketID = id
		break
	}
	return pk, nil
}

// OnPacketEncode gives a renumbered packet's acknowledgement the client's identifier back.
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if t := pk.FixedHeader.Type; t != packets.Suback && t != packets.Unsuback {
		return pk
	}
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if orig, ok := a.renumbered[cl][pk.PacketID]; ok {
		delete(a.renumbered[cl], pk.PacketID)
		pk.PacketID = orig
	}
	return pk
}
