package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/events"
)

// FollowerName is the durable consumer of events.things shared by every bootstrap instance:
// each things event is applied once, and what happened while none ran is applied at start.
const FollowerName = "bootstrap"

// Follow keeps the configs consistent with the things service until ctx ends: a removed
// thing removes its config (config.remove), a removed channel leaves every config's channels
// (thing.update_connections), an updated channel's name and metadata are copied into the
// configs that list it. An event that fails is redelivered.
//
// Creating the consumer is retried while JetStream does not answer (bus.Retry): on a cluster,
// a node that has just started may wait seconds for the EVENTS stream's leader, and an error
// here stops the whole process.
func (s *Service) Follow(ctx context.Context) error {
	var cons jetstream.Consumer
	err := bus.Retry(ctx, s.log, "following "+events.ThingsSubject, func(ctx context.Context) (err error) {
		cons, err = s.js.CreateOrUpdateConsumer(ctx, bus.EventsStream, jetstream.ConsumerConfig{
			Durable:       FollowerName,
			Description:   "the bootstrap service follows the things events",
			FilterSubject: events.ThingsSubject,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("following %s: %w", events.ThingsSubject, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var fields map[string]string
		if err := json.Unmarshal(m.Data(), &fields); err != nil {
			s.log.Error("dropping a things event that is not a JSON object of strings", "err", err)
			_ = m.Term()
			return
		}
		if err := s.apply(ctx, fields); err != nil {
			s.log.Error("applying a things event; it is redelivered", "operation", fields["operation"], "err", err)
			_ = m.NakWithDelay(time.Second)
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return fmt.Errorf("following %s: %w", events.ThingsSubject, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// apply applies one things event to the configs.
func (s *Service) apply(ctx context.Context, f map[string]string) error {
	switch f["operation"] {
	case "thing.remove":
		c, _, err := s.st.configOfThing(ctx, f["id"])
		if errors.Is(err, errNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if err := s.st.remove(ctx, c); err != nil {
			return err
		}
		return s.event(ctx, "config.remove", "thing_id", c.ThingID)
	case "channel.remove":
		return s.eachListing(ctx, f["id"], func(c *Config) string {
			c.Channels = slices.DeleteFunc(c.Channels, func(ch Channel) bool { return ch.ID == f["id"] })
			return "thing.update_connections"
		})
	case "channel.update":
		var md map[string]any
		if f["metadata"] != "" {
			if err := json.Unmarshal([]byte(f["metadata"]), &md); err != nil {
				return fmt.Errorf("channel.update %s: metadata %q: %w", f["id"], f["metadata"], err)
			}
		}
		return s.eachListing(ctx, f["id"], func(c *Config) string {
			i := slices.IndexFunc(c.Channels, func(ch Channel) bool { return ch.ID == f["id"] })
			c.Channels[i].Name, c.Channels[i].Metadata = f["name"], md
			return ""
		})
	}
	return nil
}

// eachListing applies change to every config that lists the channel, saving each (again
// on a concurrent change); change returns the event to append for it, or "".
func (s *Service) eachListing(ctx context.Context, channel string, change func(*Config) string) error {
	all, err := s.st.all(ctx, "config.>")
	if err != nil {
		return err
	}
	for _, c := range all {
		if !slices.Contains(c.channelIDs(), channel) {
			continue
		}
		for {
			cur, rev, err := s.st.config(ctx, c.Owner, c.ThingID)
			if errors.Is(err, errNotFound) || (err == nil && !slices.Contains(cur.channelIDs(), channel)) {
				break
			} else if err != nil {
				return err
			}
			op := change(&cur)
			err = s.st.update(ctx, cur, rev)
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // changed meanwhile: apply to the new version
			} else if err != nil {
				return err
			}
			if op != "" {
				if err := s.event(ctx, op, "thing_id", cur.ThingID, "channels", strings.Join(cur.channelIDs(), ",")); err != nil {
					return err
				}
			}
			break
		}
	}
	return nil
}
