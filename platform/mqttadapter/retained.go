package mqttadapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/messages"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// Retained messages live in JetStream, in the key-value bucket cairn_retained, one per topic:
// an authorised PUBLISH with the retain flag sets its topic's (an empty payload clears it)
// before it is stored and acknowledged. Every adapter instance watches the bucket and keeps
// the broker's own table of retained messages equal to it, so retained messages survive
// restarts and every instance serves the same ones. The broker sends them on SUBSCRIBE as the
// specification says (Retain Handling, Retain As Published, none on shared subscriptions),
// each after the subscriber's access check; live deliveries of a retained publish carry the
// retain flag only to Retain As Published subscriptions.

// retainedKey is a topic's key in the bucket: its channel, then the hex SHA-256 of the
// topic (key-value keys allow fewer characters than topic levels).
func retainedKey(channel, topic string) string {
	h := sha256.Sum256([]byte(topic))
	return channel + "." + hex.EncodeToString(h[:])
}

// retain stores m as its topic's retained message, or clears it for an empty payload.
func (a *Adapter) retain(ctx context.Context, m *messagingv1.Message) error {
	key := retainedKey(m.GetChannel(), messages.Topic(m.GetChannel(), m.GetSubtopic()))
	if len(m.GetPayload()) == 0 {
		if err := a.retained.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("clearing a retained message: %w", err)
		}
		return nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := a.retained.Put(ctx, key, b); err != nil {
		return fmt.Errorf("storing a retained message: %w", err)
	}
	return nil
}

// watchRetained keeps the broker's retained messages equal to the bucket until ctx ends,
// starting with every message the bucket holds.
func (a *Adapter) watchRetained(ctx context.Context) error {
	ctx, a.stopRetained = context.WithCancel(context.WithoutCancel(ctx))
	kv, err := a.js.KeyValue(ctx, bus.RetainedBucket)
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", bus.RetainedBucket, err)
	}
	a.retained = kv
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching bucket %s: %w", bus.RetainedBucket, err)
	}
	topics := map[string]string{} // key -> topic, to clear on deletes
	go func() {
		defer w.Stop()
		for e := range w.Updates() {
			if e == nil {
				continue // the end of the initial values
			}
			a.applyRetained(e, topics)
		}
	}()
	return nil
}

// applyRetained applies one change of the bucket to the broker's table.
func (a *Adapter) applyRetained(e jetstream.KeyValueEntry, topics map[string]string) {
	if e.Operation() != jetstream.KeyValuePut {
		if topic, ok := topics[e.Key()]; ok {
			a.server.Topics.RetainMessage(packets.Packet{TopicName: topic}) // empty: cleared
			delete(topics, e.Key())
		}
		return
	}
	var m messagingv1.Message
	if err := proto.Unmarshal(e.Value(), &m); err != nil {
		a.log.Error("ignoring an undecodable retained message", "key", e.Key(), "error", err)
		return
	}
	d, ok := deliveryOf(&m, a.now())
	topic := messages.Topic(m.GetChannel(), m.GetSubtopic())
	topics[e.Key()] = topic
	if !ok {
		a.server.Topics.RetainMessage(packets.Packet{TopicName: topic}) // expired
		return
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: byte(min(m.GetQos(), 2)), Retain: true},
		TopicName:       topic,
		Payload:         m.GetPayload(),
		Created:         a.now().Unix(),
		ProtocolVersion: 5, // so that the broker honours its expiry
	}
	applyDelivery(&pk, d)
	pk.Origin = "" // No Local does not apply to retained messages sent on SUBSCRIBE
	a.server.Topics.RetainMessage(pk)
}
