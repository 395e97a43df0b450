package mqttadapter

import (
	"context"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/metrics"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// hook connects mochi's broker to Cairn's access checks, bus and events.
type hook struct {
	mqtt.HookBase
	a *Adapter
}

func (h *hook) ID() string { return "cairn" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnClientExpired, mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnPublish, mqtt.OnSubscribe, mqtt.OnSubscribed,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

// probeChannel is a channel id no channel can have (ids are UUIDs); asking to publish on it
// authenticates the key (answer STATUS_NOT_FOUND with the thing's id) without granting
// anything. The access protocol has no "authenticate only" action.
const probeChannel = "-"

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	a := h.a
	t, ok := claimed(cl, pk)
	if !ok {
		return false
	}
	id := t.id
	if old, ok := a.server.Clients.Get(cl.ID); ok && old.Properties.Username != nil && string(old.Properties.Username) != id {
		a.log.Info("refusing a client id used by another thing", "client", cl.ID, "thing", id)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	resp, err := a.auth.Authorize(ctx, t.request(probeChannel, thingsv1.Action_ACTION_PUBLISH))
	if err != nil {
		a.log.Error("authenticating", "thing", id, "error", err)
		return false
	}
	// The things service authenticates the key before it looks at the channel, and names
	// the key's thing in every answer after that; an answer without the thing's id (refused
	// key, malformed request) authenticates nothing.
	if resp.GetStatus() == thingsv1.AccessResponse_STATUS_UNAUTHENTICATED || resp.GetThingId() != id {
		return false
	}
	if len(cl.Properties.Username) == 0 {
		cl.Properties.Username = []byte(id) // identified by its certificate: the session's thing
	}
	a.mu.Lock()
	a.things[cl] = thing{id: id, key: t.key, will: a.takeWill(cl)}
	a.sessions[cl.ID] = thing{id: id, key: t.key}
	a.mu.Unlock()
	return true
}

func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if !write {
		topic = unshared(topic)
	}
	channel, _, err := messages.ParseTopic(topic, !write)
	if err != nil {
		if write {
			refused(metrics.ReasonInvalid)
		}
		return false
	}
	action := thingsv1.Action_ACTION_SUBSCRIBE
	if write {
		action = thingsv1.Action_ACTION_PUBLISH
	}
	st := h.a.ask(cl, channel, action)
	ok := st == thingsv1.AccessResponse_STATUS_ALLOWED
	if !ok {
		reason := messages.RefusalReason(st)
		if write {
			refused(reason)
		}
		h.a.log.Info("access refused", "client", cl.ID, "thing", string(cl.Properties.Username), "topic", topic,
			"action", strings.ToLower(strings.TrimPrefix(action.String(), "ACTION_")), "reason", reason, "listener", cl.Net.Listener)
	}
	if ok && !write {
		if err := h.a.startDelivery(); err != nil {
			h.a.log.Error("refusing a subscription: cannot deliver to it", "client", cl.ID, "filter", topic, "error", err)
			return false
		}
	}
	return ok
}

// OnSubscribe and OnSubscribed bracket the handling of a SUBSCRIBE packet, during which
// idle deliveries are not stopped.
// A SUBSCRIBE with options the specification forbids (Retain Handling 3, No Local on a
// shared subscription) is a protocol error: the connection ends, nothing is subscribed.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.a.subscribing.Add(1)
	for _, f := range pk.Filters {
		if f.RetainHandling > 2 || (f.NoLocal && strings.HasPrefix(f.Filter, "$share/")) {
			h.a.log.Info("closing a connection whose SUBSCRIBE has forbidden options", "client", cl.ID, "filter", f.Filter,
				"retain_handling", f.RetainHandling, "no_local", f.NoLocal)
			_ = h.a.server.DisconnectClient(cl, packets.ErrProtocolViolation)
			pk.Filters = nil
			return pk
		}
	}
	return pk
}

func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	h.a.subscribing.Add(-1)
}

// OnPublish stores an authorised publish on the bus; the broker never delivers it itself:
// delivery comes back from the bus. QoS 0 and 1 publishes are acknowledged by the
// connection's acker once stored; QoS 2 is stored here and the broker acknowledges it
// (CodeSuccessIgnore).
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	a := h.a
	if cl.Net.Inline { // a delivery from the bus
		if d := a.pending; d != nil {
			applyDelivery(&pk, *d)
		}
		return pk, nil
	}
	received := a.now()
	channel, subtopic, err := messages.ParseTopic(pk.TopicName, false)
	if err != nil {
		refused(metrics.ReasonInvalid)
		return pk, h.refuse(cl, pk, packets.ErrTopicNameInvalid)
	}
	if len(pk.Payload) > a.maxPayload {
		refused(metrics.ReasonTooLarge)
		return pk, h.refuse(cl, pk, packets.ErrPacketTooLarge)
	}
	a.mu.Lock()
	t, ok := a.things[cl]
	a.mu.Unlock()
	if !ok {
		refused(metrics.ReasonUnauthenticated)
		return pk, h.refuse(cl, pk, packets.ErrNotAuthorized)
	}
	accepted(cl.Net.Listener)
	m := &messagingv1.Message{
		Channel:   channel,
		Subtopic:  subtopic,
		Publisher: t.id,
		Protocol:  "mqtt",
		Payload:   pk.Payload,
		Created:   received.UnixNano(),
		Qos:       uint32(pk.FixedHeader.Qos),
	}
	setProperties(m, pk.Properties)
	m.Origin = a.origin + "/" + cl.ID
	if pk.FixedHeader.Retain {
		m.Retain = true
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		err := a.retain(ctx, m)
		cancel()
		if err != nil {
			notStored()
			a.log.Error("storing an MQTT retained message", "thing", t.id, "channel", channel, "error", err)
			return pk, h.refuse(cl, pk, packets.ErrServerUnavailable)
		}
	}
	if pk.FixedHeader.Qos == 2 {
		// QoS 2 keeps the broker's own PUBREC/PUBREL/PUBCOMP exchange: stored first.
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		if _, err := a.pub.Publish(ctx, m, ""); err != nil {
			notStored()
			a.log.Error("storing an MQTT publish", "thing", t.id, "channel", channel, "error", err)
			return pk, h.refuse(cl, pk, packets.ErrServerUnavailable)
		}
		stored(cl.Net.Listener, received)
		return pk, packets.CodeSuccessIgnore
	}
	// QoS 0 and 1: sent to the stream without waiting, so that many publishes of one
	// connection are in flight; the connection's acker waits for the stream's
	// acknowledgements in order and only then sends each PUBACK.
	k, err := a.ackerOf(cl)
	if err != nil {
		notStored()
		a.log.Error("storing an MQTT publish", "thing", t.id, "channel", channel, "error", err)
		return pk, h.refuse(cl, pk, packets.ErrServerUnavailable)
	}
	// Rejected for the broker: the acker acknowledges it (or nobody, if the connection is
	// gone).
	k.send(m, pk.PacketID, pk.FixedHeader.Qos)
	return pk, packets.ErrRejectPacket
}

// refuse drops pk. MQTT 5 QoS 1 and 2 publishers get the reason code in the acknowledgement;
// MQTT 3.1.1 has no negative acknowledgement, so a QoS 1 or 2 publisher is disconnected
// instead of waiting forever, and a QoS 0 publish is dropped silently.
func (h *hook) refuse(cl *mqtt.Client, pk packets.Packet, code packets.Code) error {
	if pk.FixedHeader.Qos == 0 {
		return packets.ErrRejectPacket
	}
	if cl.Properties.ProtocolVersion == 5 {
		return code
	}
	_ = h.a.server.DisconnectClient(cl, code)
	return packets.ErrRejectPacket
}

func (h *hook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	h.a.cancelDelayedWill(cl.ID)
	h.a.mu.Lock()
	t, ok := h.a.things[cl]
	h.a.mu.Unlock()
	if ok {
		h.a.event(t, "connect")
	}
}

func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.a.mu.Lock()
	t, ok := h.a.things[cl]
	delete(h.a.things, cl)
	delete(h.a.renumbered, cl)
	if k := h.a.ackers[cl]; k != nil {
		k.close()
		delete(h.a.ackers, cl)
	}
	h.a.mu.Unlock()
	h.a.endSession(cl, expire)
	if ok {
		h.a.willDue(cl, t, err)
		h.a.event(t, "disconnect")
	}
}
