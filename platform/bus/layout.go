package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

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
		{Bucket: BootstrapBucket, Description: "Cairn bootstrap configs and their external id index"},
		{Bucket: RetainedBucket, Description: "Cairn MQTT retained messages"},
		{Bucket: SessionsBucket, Description: "Cairn MQTT persistent sessions, by adapter instance"},
	}
}

// EnsureStreams creates the platform's streams and buckets with l.Replicas replicas, or
// updates their configuration to this version's (raising their replicas to l.Replicas, never
// lowering them); it is idempotent. It then checks the data format version.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, l Layout) error {
	want := max(l.Replicas, 1)
	for _, cfg := range streamConfigs() {
		var found *jetstream.StreamConfig
		if s, err := js.Stream(ctx, cfg.Name); err == nil {
			found = &s.CachedInfo().Config
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reading stream %s: %w", cfg.Name, err)
		}
		if found != nil {
			cfg.Replicas = l.replicas(cfg.Name, found.Replicas, want)
			if same(*found, cfg) {
				continue // no update: a cluster with a node down refuses even an identical one
			}
		} else {
			cfg.Replicas = want
		}
		err := settle(ctx, js, cfg.Name, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return l.creating("stream "+cfg.Name, cfg.Replicas, err)
		}
	}
	for _, cfg := range bucketConfigs() {
		if err := ensureBucket(ctx, js, l, cfg, want); err != nil {
			return err
		}
	}
	return checkFormat(ctx, js)
}

// same reports whether the stream configuration found already is what EnsureStreams wants.
func same(found, want jetstream.StreamConfig) bool {
	return found.Replicas == want.Replicas && found.Description == want.Description &&
		slices.Equal(found.Subjects, want.Subjects) && found.Storage == want.Storage &&
		found.Retention == want.Retention && found.Duplicates == want.Duplicates
}

// ensureBucket creates the bucket of cfg, or updates its stream, so that it has the
// replicas l decides and no direct gets: a direct get may be answered by a follower that
// has not applied the latest write yet (a thing just created would read as unknown); without
// it, every Get is answered by the bucket's leader.
func ensureBucket(ctx context.Context, js jetstream.JetStream, l Layout, cfg jetstream.KeyValueConfig, want int) error {
	cfg.Storage = jetstream.FileStorage
	name := "KV_" + cfg.Bucket
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		cfg.Replicas = want
		err = settle(ctx, js, name, func(ctx context.Context) error {
			_, err := js.CreateKeyValue(ctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				return nil // created by another node with the same configuration
			}
			return err
		})
		if err != nil {
			return l.creating("key-value bucket "+cfg.Bucket, want, err)
		}
		s, err = js.Stream(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("reading bucket %s: %w", cfg.Bucket, err)
	}
	sc := s.CachedInfo().Config
	replicas := l.replicas(name, sc.Replicas, want)
	if sc.Replicas == replicas && !sc.AllowDirect && sc.MaxAge == cfg.TTL && sc.Description == cfg.Description {
		return nil
	}
	sc.Replicas, sc.AllowDirect, sc.MaxAge, sc.Description = replicas, false, cfg.TTL, cfg.Description
	err = settle(ctx, js, name, func(ctx context.Context) error {
		_, err := js.UpdateStream(ctx, sc)
		return err
	})
	if err != nil {
		return l.creating("key-value bucket "+cfg.Bucket, replicas, err)
	}
	return nil
}

// createTimeout bounds one create or update: on a cluster, when several nodes create the
// same stream at once, JetStream answers only the first; the others find the stream.
const createTimeout = 2 * time.Second

// settle runs do (a create or update of stream name) with createTimeout; if it is not
// answered, it is done when the stream exists (created by another node at the same time).
func settle(ctx context.Context, js jetstream.JetStream, name string, do func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	err := do(cctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		if _, serr := js.Stream(ctx, name); serr == nil {
			return nil
		}
	}
	return err
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
