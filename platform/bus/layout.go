package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// Layout is what EnsureStreams makes sure of beyond the streams' and buckets' existence.
type Layout struct {
	// Replicas is how many copies of every stream and bucket the cluster keeps (0 means 1).
	// A stream found with fewer is raised to it in place; one found with more keeps them.
	Replicas int
	// Servers is the number of servers of the cluster that this process knows of, 0 if
	// unknown. When the cluster refuses to place Replicas copies and Replicas is above
	// Servers, EnsureStreams refuses for good; otherwise the refusal may pass (servers down,
	// an election) and EnsureStreams returns it to be retried.
	Servers int
	// Log, if set, records replica changes and the replicas kept.
	Log *slog.Logger
}

// ErrRefused marks an error that waiting cannot cure (a configuration or data that this
// binary refuses); WaitReady returns it at once instead of retrying.
var ErrRefused = errors.New("refused")

// refused wraps err so that errors.Is(err, ErrRefused).
type refused struct{ err error }

func (r refused) Error() string       { return r.err.Error() }
func (r refused) Unwrap() []error     { return []error{r.err, ErrRefused} }
func refuse(f string, a ...any) error { return refused{fmt.Errorf(f, a...)} }

func streamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        MessagesStream,
			Description: "Cairn channel messages: the bus and the message store",
			Subjects:    []string{"channels.*.messages", "channels.*.messages.>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  DuplicateWindow,
		},
		{
			Name:        EventsStream,
			Description: "Cairn events (Mainflux event format: string fields with an operation)",
			Subjects:    []string{"events.>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
		},
	}
}

func bucketConfigs() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: MetaBucket, Description: "Cairn data format"},
		{Bucket: UsersBucket, Description: "Cairn users"},
		{Bucket: TokensBucket, Description: "Cairn bearer tokens", TTL: TokenTTL},
		{Bucket: ThingsBucket, Description: "Cairn things"},
		{Bucket: ThingKeysBucket, Description: "Cairn thing key index"},
		{Bucket: ChannelsBucket, Description: "Cairn channels"},
		{Bucket: ConnectionsBucket, Description: "Cairn thing-channel connections"},
	}
}

// EnsureStreams creates the platform's streams and buckets with l.Replicas replicas, or
// updates their configuration to this version's (raising their replicas to l.Replicas, never
// lowering them); it is idempotent. It then checks the data format version.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, l Layout) error {
	want := max(l.Replicas, 1)
	for _, cfg := range streamConfigs() {
		var found int
		if s, err := js.Stream(ctx, cfg.Name); err == nil {
			found = s.CachedInfo().Config.Replicas
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reading stream %s: %w", cfg.Name, err)
		}
		cfg.Replicas = l.replicas(cfg.Name, found, want)
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return l.creating("stream "+cfg.Name, cfg.Replicas, err)
		}
	}
	for _, cfg := range bucketConfigs() {
		cfg.Storage = jetstream.FileStorage
		var found int
		if s, err := js.Stream(ctx, "KV_"+cfg.Bucket); err == nil {
			found = s.CachedInfo().Config.Replicas
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reading bucket %s: %w", cfg.Bucket, err)
		}
		cfg.Replicas = l.replicas("KV_"+cfg.Bucket, found, want)
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return l.creating("key-value bucket "+cfg.Bucket, cfg.Replicas, err)
		}
	}
	return checkFormat(ctx, js)
}

// replicas decides the replica count of a stream found with found replicas (0: not found).
func (l Layout) replicas(name string, found, want int) int {
	switch {
	case found == 0:
		return want
	case found < want:
		l.log("raising the replicas of a stream", "stream", name, "from", found, "to", want)
		return want
	case found > want:
		l.log("keeping the stream's replicas, more than -replicas", "stream", name, "replicas", found, "want", want)
		return found
	}
	return found
}

func (l Layout) log(msg string, args ...any) {
	if l.Log != nil {
		l.Log.Info(msg, args...)
	}
}

// creating explains a refused creation; a server that is not clustered refuses replicas for
// good, anything else (no quorum, a leader election, too few servers up) may pass.
func (l Layout) creating(what string, replicas int, err error) error {
	var apiErr *jetstream.APIError
	if replicas > 1 && errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10074: // replicas > 1 not supported in non-clustered mode
			return refuse("creating %s with %d replicas: the NATS server is not clustered (1 server); give -replicas 1 (CAIRN_REPLICAS), or run a cluster", what, replicas)
		case 10005, 10023: // no suitable peers for placement, insufficient resources
			if l.Servers > 0 && replicas > l.Servers {
				return refuse("creating %s with %d replicas: the NATS cluster has %d server(s) (%v); give -replicas %d (CAIRN_REPLICAS) at most, or add servers", what, replicas, l.Servers, err, l.Servers)
			}
		}
	}
	return fmt.Errorf("creating %s with %d replicas: %w", what, replicas, err)
}
