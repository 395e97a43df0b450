// Package events appends to and replays Cairn's event log, the JetStream stream EVENTS.
//
// An event is one JSON object of string fields, the format Mainflux published to Redis
// Streams: for things, "operation" (thing.create, thing.update, thing.remove, thing.connect,
// thing.disconnect, channel.create, channel.update, channel.remove) and only the fields that
// apply (id, name, owner, metadata as a JSON string, chan_id, thing_id); for the bootstrap
// service, its operations (config.create ... thing.update_connections, see package bootstrap)
// with a timestamp in Unix seconds; for the MQTT adapter, thing_id, timestamp, event_type and
// instance. Each service appends to its own subject (ThingsSubject, BootstrapSubject,
// MQTTSubject); a consumer replays a subject from the start of the stream.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
)

// Subjects of the services' events.
const (
	ThingsSubject    = "events.things"
	MQTTSubject      = "events.mqtt"
	BootstrapSubject = "events.bootstrap"
)

// Event is one event read back from the stream.
type Event struct {
	// Seq is the event's sequence number in the stream EVENTS (increasing, not contiguous
	// per subject).
	Seq uint64
	// Subject is the subject it was appended to.
	Subject string
	// Fields are the event's fields.
	Fields map[string]string
}

// Publish appends one event with fields to subject (which must start with "events.") and
// waits for the stream to acknowledge it. The JSON has sorted keys.
func Publish(ctx context.Context, js jetstream.JetStream, subject string, fields map[string]string) error {
	if !strings.HasPrefix(subject, "events.") || strings.ContainsAny(subject, "*> ") {
		return fmt.Errorf("publishing an event: subject %q is not events.<name>", subject)
	}
	if len(fields) == 0 {
		return fmt.Errorf("publishing an event to %s: no fields", subject)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encoding an event: %w", err)
	}
	if _, err := js.Publish(ctx, subject, b); err != nil {
		return fmt.Errorf("publishing an event to %s: %w", subject, err)
	}
	return nil
}

// Replay calls fn for every event on subject (a filter: "events.things", or "events.>" for
// all), in order, from the start of the stream up to the last event stored when Replay
// started. It stops at the first error fn returns, and returns it.
func Replay(ctx context.Context, js jetstream.JetStream, subject string, fn func(Event) error) (err error) {
	// An ephemeral consumer, deleted at the end: a lingering one per replay would reach the
	// server's limit of consumers per stream (1000) under repeated replays. The inactivity
	// threshold only cleans up after a crash.
	cons, err := js.CreateConsumer(ctx, bus.EventsStream, jetstream.ConsumerConfig{
		FilterSubjects:    []string{subject},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("replaying events %s: %w", subject, err)
	}
	defer func() {
		derr := js.DeleteConsumer(context.WithoutCancel(ctx), bus.EventsStream, cons.CachedInfo().Name)
		if derr != nil && err == nil {
			err = fmt.Errorf("replaying events %s: deleting the consumer: %w", subject, derr)
		}
	}()
	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		batch, err := cons.Fetch(int(min(pending, 256)), jetstream.FetchContext(ctx))
		if err != nil {
			return fmt.Errorf("replaying events %s: %w", subject, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("replaying events %s: %w", subject, err)
			}
			var fields map[string]string
			if err := json.Unmarshal(msg.Data(), &fields); err != nil {
				return fmt.Errorf("replaying events %s: event %d is not a JSON object of strings: %w", subject, md.Sequence.Stream, err)
			}
			if err := fn(Event{Seq: md.Sequence.Stream, Subject: msg.Subject(), Fields: fields}); err != nil {
				return err
			}
			pending = md.NumPending
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("replaying events %s: %w", subject, err)
		}
		if n == 0 {
			return fmt.Errorf("replaying events %s: the stream returned nothing with %d events pending", subject, pending)
		}
	}
	return nil
}

// All returns every event on subject, as Replay reads them.
func All(ctx context.Context, js jetstream.JetStream, subject string) ([]Event, error) {
	var all []Event
	err := Replay(ctx, js, subject, func(e Event) error {
		all = append(all, e)
		return nil
	})
	return all, err
}

// FollowThings returns an ordered consumer of the things events appended from now on
// (ThingsSubject), for the caches that forget what an event changes. Creating it is retried
// while JetStream does not answer (bus.Retry): on a cluster, a node that has just started may
// wait seconds for the EVENTS stream's leader. log may be nil.
func FollowThings(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := bus.Retry(ctx, log, "following "+ThingsSubject, func(ctx context.Context) (err error) {
		cons, err = js.OrderedConsumer(ctx, bus.EventsStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{ThingsSubject},
			DeliverPolicy:  jetstream.DeliverNewPolicy,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("following %s: %w", ThingsSubject, err)
	}
	return cons, nil
}
