package things

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
)

// Thing is a device or application that publishes and subscribes with its key.
type Thing struct {
	ID       string         `json:"id"`
	Owner    string         `json:"owner"`
	Name     string         `json:"name,omitempty"`
	Key      string         `json:"key"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Channel is a topic things publish to and subscribe on once connected.
type Channel struct {
	ID       string         `json:"id"`
	Owner    string         `json:"owner"`
	Name     string         `json:"name,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// keyRef is the key index's value: which thing holds a key.
type keyRef struct {
	Owner string `json:"owner"`
	ID    string `json:"id"`
}

var errNotFound = errors.New("not found")

// store is the things service's view of its buckets (see package bus for the key layout).
type store struct {
	things, keys, channels, conns jetstream.KeyValue
}

func openStore(ctx context.Context, js jetstream.JetStream) (*store, error) {
	st := &store{}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{
		{&st.things, bus.ThingsBucket},
		{&st.keys, bus.ThingKeysBucket},
		{&st.channels, bus.ChannelsBucket},
		{&st.conns, bus.ConnectionsBucket},
	} {
		kv, err := js.KeyValue(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("opening bucket %s: %w", b.name, err)
		}
		*b.kv = kv
	}
	return st, nil
}

func ownedKey(owner, id string) string    { return owner + "." + id }
func connKey(owner, ch, th string) string { return owner + "." + ch + "." + th }

// getJSON reads key into v and returns its revision; errNotFound if there is none.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return 0, errNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decoding %s/%s: %w", kv.Bucket(), key, err)
	}
	return e.Revision(), nil
}

func exists(ctx context.Context, kv jetstream.KeyValue, key string) (bool, error) {
	_, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s/%s: %w", kv.Bucket(), key, err)
	}
	return true, nil
}

// keys returns the sorted keys of kv matching filter.
func keys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	l, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("listing %s/%s: %w", kv.Bucket(), filter, err)
	}
	var ks []string
	for k := range l.Keys() {
		ks = append(ks, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing %s/%s: %w", kv.Bucket(), filter, err)
	}
	slices.Sort(ks)
	return slices.Compact(ks), nil
}

// lastToken returns the id at the end of a key "<a>.<b>...<id>".
func lastToken(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

// deleteAll deletes every key of kv that matches filter.
func deleteAll(ctx context.Context, kv jetstream.KeyValue, filter string) error {
	ks, err := keys(ctx, kv, filter)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if err := kv.Delete(ctx, k); err != nil {
			return fmt.Errorf("deleting %s/%s: %w", kv.Bucket(), k, err)
		}
	}
	return nil
}
