package bootstrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
)

// States of a config: an inactive thing is not connected to its config's channels.
const (
	Inactive = 0
	Active   = 1
)

// Config is what a gateway receives at first boot, and how to recognise it.
type Config struct {
	ThingID    string `json:"thing_id"`
	Owner      string `json:"owner"`
	ThingKey   string `json:"thing_key"`
	ExternalID string `json:"external_id"`
	// ExternalKeyHash is the bcrypt hash of the external key; the key itself is never stored.
	ExternalKeyHash string    `json:"external_key_hash"`
	Name            string    `json:"name,omitempty"`
	Content         string    `json:"content,omitempty"`
	Channels        []Channel `json:"channels"`
	State           int       `json:"state"`
	ClientCert      string    `json:"client_cert,omitempty"`
	ClientKey       string    `json:"client_key,omitempty"`
	CACert          string    `json:"ca_cert,omitempty"`
}

// Channel is a config's copy of a channel, kept current from the things events.
type Channel struct {
	ID       string         `json:"id"`
	Name     string         `json:"name,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// channelIDs returns the ids of c's channels, in order.
func (c Config) channelIDs() []string {
	ids := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		ids[i] = ch.ID
	}
	return ids
}

// externalRef is the external id index's value: whose config an external id opens.
type externalRef struct {
	Owner   string `json:"owner"`
	ThingID string `json:"thing_id"`
}

var errNotFound = errors.New("not found")

// store is the bootstrap service's bucket: configs by "config.<owner>.<thing id>" and the
// external id index by "external.<hex SHA-256 of the external id>" (external ids are free
// text, such as a MAC address, and key-value keys are not).
type store struct{ kv jetstream.KeyValue }

func openStore(ctx context.Context, js jetstream.JetStream) (*store, error) {
	kv, err := js.KeyValue(ctx, bus.BootstrapBucket)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", bus.BootstrapBucket, err)
	}
	return &store{kv: kv}, nil
}

func configKey(owner, thingID string) string { return "config." + owner + "." + thingID }

func externalKey(externalID string) string {
	h := sha256.Sum256([]byte(externalID))
	return "external." + hex.EncodeToString(h[:])
}

// get reads key into v and returns its revision; errNotFound if there is none.
func (s *store) get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return 0, errNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decoding %s: %w", key, err)
	}
	return e.Revision(), nil
}

// config reads owner's config of thingID.
func (s *store) config(ctx context.Context, owner, thingID string) (Config, uint64, error) {
	var c Config
	rev, err := s.get(ctx, configKey(owner, thingID), &c)
	return c, rev, err
}

// configOfThing reads the config of thingID whoever owns it (the things events name a thing
// by id only); errNotFound if it has none.
func (s *store) configOfThing(ctx context.Context, thingID string) (Config, uint64, error) {
	ks, err := s.keys(ctx, "config.*."+thingID)
	if err != nil || len(ks) == 0 {
		return Config{}, 0, errors.Join(err, errNotFound)
	}
	var c Config
	rev, err := s.get(ctx, ks[0], &c)
	return c, rev, err
}

// update replaces c if it is still at revision rev; jetstream.ErrKeyExists if it changed.
func (s *store) update(ctx context.Context, c Config, rev uint64) error {
	b, _ := json.Marshal(c)
	_, err := s.kv.Update(ctx, configKey(c.Owner, c.ThingID), b, rev)
	return err
}

// remove deletes c and its external id.
func (s *store) remove(ctx context.Context, c Config) error {
	if err := s.kv.Delete(ctx, configKey(c.Owner, c.ThingID)); err != nil {
		return fmt.Errorf("deleting the config: %w", err)
	}
	if err := s.kv.Delete(ctx, externalKey(c.ExternalID)); err != nil {
		return fmt.Errorf("deleting the external id index: %w", err)
	}
	return nil
}

// keys returns the sorted keys matching filter.
func (s *store) keys(ctx context.Context, filter string) ([]string, error) {
	l, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filter, err)
	}
	var ks []string
	for k := range l.Keys() {
		ks = append(ks, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", filter, err)
	}
	slices.Sort(ks)
	return slices.Compact(ks), nil
}

// all returns every config matching filter ("config.<owner>.*", or "config.>" for all).
func (s *store) all(ctx context.Context, filter string) ([]Config, error) {
	ks, err := s.keys(ctx, filter)
	if err != nil {
		return nil, err
	}
	cs := make([]Config, 0, len(ks))
	for _, k := range ks {
		var c Config
		if _, err := s.get(ctx, k, &c); errors.Is(err, errNotFound) {
			continue // removed since it was listed
		} else if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}
