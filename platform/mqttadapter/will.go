package mqttadapter

import (
	"context"
	"errors"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/messages"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Wills. A will is a publish the broker makes on a thing's behalf when its connection ends
// without DISCONNECT, so it passes the checks of a PUBLISH, twice: at CONNECT (OnConnect: a
// will the thing may not publish refuses the connection with "not authorized"), and when it
// is due (sendWill asks again: the thing may have been disconnected from the channel since).
// The adapter takes the will from the broker at CONNECT, so the broker never delivers it
// itself; a due will is stored through JetStream like any publish and reaches subscribers
// from the stream. A will delay (MQTT 5) is honoured: the will is sent after it unless a
// connection with the same client id comes back first. Wills are not sent when the adapter
// shuts down, and they are never retained. The broker library refuses a will with an empty
// payload as a protocol error (MQTT allows it): send at least one byte.

// OnConnect refuses a CONNECT whose will topic the thing may not publish on. A CONNECT whose
// credentials are wrong is left to OnConnectAuthenticate, which refuses it as such.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if !pk.Connect.WillFlag {
		return nil
	}
	a := h.a
	t, ok := claimed(cl, pk)
	if !ok {
		return nil
	}
	id := t.id
	allowed := false
	if channel, _, err := messages.ParseTopic(pk.Connect.WillTopic, false); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		resp, err := a.auth.Authorize(ctx, t.request(channel, thingsv1.Action_ACTION_PUBLISH))
		if err != nil {
			a.log.Error("checking a will", "thing", id, "topic", pk.Connect.WillTopic, "error", err)
			return a.refuseConnect(cl, packets.ErrServerUnavailable)
		}
		if resp.GetStatus() == thingsv1.AccessResponse_STATUS_UNAUTHENTICATED || resp.GetThingId() != id {
			return nil // wrong credentials: OnConnectAuthenticate refuses them
		}
		allowed = resp.GetStatus() == thingsv1.AccessResponse_STATUS_ALLOWED
	}
	if allowed {
		return nil
	}
	a.log.Info("refusing a CONNECT with a will the thing may not publish", "client", cl.ID, "thing", id, "topic", pk.Connect.WillTopic)
	return a.refuseConnect(cl, packets.ErrNotAuthorized)
}

// refuseConnect answers a CONNECT with a refusal and returns it; MQTT 3.1.1 gets its own
// return code for "not authorized" (0x05), which the broker does not translate.
func (a *Adapter) refuseConnect(cl *mqtt.Client, code packets.Code) error {
	ack := code
	if cl.Properties.ProtocolVersion < 5 && code == packets.ErrNotAuthorized {
		ack = packets.Err3NotAuthorized
	}
	_ = a.server.SendConnack(cl, ack, false, nil)
	return code
}

// takeWill moves the connection's will from the broker to the adapter.
func (a *Adapter) takeWill(cl *mqtt.Client) *mqtt.Will {
	if cl.Properties.Will.Flag == 0 {
		return nil
	}
	w := cl.Properties.Will
	cl.Properties.Will = mqtt.Will{}
	return &w
}

// willDue is called when an authenticated connection ends: its will, if any, is sent unless
// the connection ended with DISCONNECT (err nil) or the adapter is shutting down; after its
// delay if it has one.
func (a *Adapter) willDue(cl *mqtt.Client, t thing, err error) {
	if t.will == nil || err == nil || errors.Is(err, packets.ErrServerShuttingDown) {
		return
	}
	if d := t.will.WillDelayInterval; d > 0 {
		if cl.IsTakenOver() {
			return // a connection with the same client id came back before the delay
		}
		a.mu.Lock()
		if old := a.delayed[cl.ID]; old != nil {
			old.Stop()
		}
		a.delayed[cl.ID] = time.AfterFunc(time.Duration(d)*time.Second, func() {
			a.mu.Lock()
			delete(a.delayed, cl.ID)
			a.mu.Unlock()
			if now, ok := a.server.Clients.Get(cl.ID); ok && now != cl && !now.Closed() {
				return // connected again, whatever the order the broker reported it in
			}
			a.sendWill(t)
		})
		a.mu.Unlock()
		return
	}
	a.sendWill(t)
}

// cancelDelayedWill drops the delayed will of a client id that connected again.
func (a *Adapter) cancelDelayedWill(clientID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if tm := a.delayed[clientID]; tm != nil {
		tm.Stop()
		delete(a.delayed, clientID)
	}
}

// sendWill stores t's will through JetStream if the thing may still publish there.
func (a *Adapter) sendWill(t thing) {
	w := t.will
	channel, subtopic, err := messages.ParseTopic(w.TopicName, false)
	if err != nil {
		return // checked at CONNECT: cannot happen
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	resp, err := a.auth.Authorize(ctx, t.request(channel, thingsv1.Action_ACTION_PUBLISH))
	if err != nil {
		a.log.Error("checking a will before sending it; not sent", "thing", t.id, "topic", w.TopicName, "error", err)
		return
	}
	if resp.GetStatus() != thingsv1.AccessResponse_STATUS_ALLOWED {
		a.log.Info("not sending a will: the thing may no longer publish there", "thing", t.id, "topic", w.TopicName, "status", resp.GetStatus().String())
		return
	}
	m := &messagingv1.Message{
		Channel:   channel,
		Subtopic:  subtopic,
		Publisher: t.id,
		Protocol:  "mqtt",
		Payload:   w.Payload,
		Created:   a.now().UnixNano(),
		Qos:       uint32(w.Qos),
	}
	setProperties(m, packets.Properties{User: w.User})
	if _, err := a.pub.Publish(ctx, m, ""); err != nil {
		a.log.Error("storing a will; not sent", "thing", t.id, "topic", w.TopicName, "error", err)
	}
}
