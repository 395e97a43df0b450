// Package bus is Cairn's one engine for messaging, events and storage: NATS with JetStream.
//
// A process either connects in-process to a nats-server it runs itself (package natsd, the
// default of the all-in-one; only the all-in-one links the server) or to an external NATS
// cluster (Connect, selected by one URL: -nats-url or CAIRN_NATS_URL). Open does either and
// then EnsureStreams, which creates, idempotently,
// every stream and key-value bucket the platform uses:
//
//	MESSAGES           stream, subjects channels.*.messages and channels.*.messages.>, file
//	                   storage, a 2-minute duplicate window (a publish retried with the same
//	                   Nats-Msg-Id header is stored once); it is also the message store.
//	EVENTS             stream, subjects events.>, file storage: the event log.
//	cairn_meta         KV: "format" = the data format version (FormatVersion).
//	cairn_users        KV: users, by hex of the lower-cased email.
//	cairn_tokens       KV: bearer tokens, by hex SHA-256 of the token, 24 h TTL.
//	cairn_things       KV: things, by "<owner>.<thing id>".
//	cairn_thing_keys   KV: thing key index, by hex SHA-256 of the key.
//	cairn_channels     KV: channels, by "<owner>.<channel id>".
//	cairn_connections  KV: connections, by "<owner>.<channel id>.<thing id>".
//	cairn_bootstrap    KV: bootstrap configs, by "config.<owner>.<thing id>", and the
//	                   external id index, by "external.<hex SHA-256 of the external id>".
//	cairn_retained     KV: MQTT retained messages (protobuf Message), by "<channel id>.<hex
//	                   SHA-256 of the MQTT topic>".
//
// # Data format
//
// The on-disk (and in-cluster) format is versioned by the key "format" of the bucket
// cairn_meta. Version 1 is the layout above, every value JSON. EnsureStreams writes the
// version on first use, accepts any version up to FormatVersion (a newer binary opens an
// older data directory, migrating if a future version needs it) and refuses a newer one.
//
// # Clusters
//
// Streams and buckets are created with Options.Replicas copies (-replicas, CAIRN_REPLICAS;
// default 1). A service that finds fewer raises them in place (JetStream copies the data to
// the new replicas); one that finds more keeps them and logs it, so a service started later
// with a smaller setting never scales them down. Replicas that the cluster cannot place and
// that exceed the servers this process knows of are refused (ErrRefused) naming their number.
//
// A service starts before its cluster is ready: Dial returns at once, and WaitReady retries
// EnsureStreams with backoff (MinBackoff to MaxBackoff) while JetStream has no quorum or
// leader, reporting why.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// FormatVersion is the data format this binary writes and the newest it can open.
const FormatVersion = 1

// Stream and bucket names (see the package documentation).
const (
	MessagesStream    = "MESSAGES"
	EventsStream      = "EVENTS"
	MetaBucket        = "cairn_meta"
	UsersBucket       = "cairn_users"
	TokensBucket      = "cairn_tokens"
	ThingsBucket      = "cairn_things"
	ThingKeysBucket   = "cairn_thing_keys"
	ChannelsBucket    = "cairn_channels"
	ConnectionsBucket = "cairn_connections"
	BootstrapBucket   = "cairn_bootstrap"
	RetainedBucket    = "cairn_retained"
	SessionsBucket    = "cairn_sessions"
)

// TokenTTL is how long a bearer token lives; the tokens bucket expires entries after it.
const TokenTTL = 24 * time.Hour

// DuplicateWindow is how long MESSAGES remembers a Nats-Msg-Id to drop a retried publish.
const DuplicateWindow = 2 * time.Minute

// Bus is an open connection to NATS, with the embedded server when this process runs one.
type Bus struct {
	// Conn is the core NATS connection (request-reply, plain subscriptions).
	Conn *nats.Conn
	// JS is the JetStream API on Conn (streams, consumers, key-value buckets).
	JS jetstream.JetStream

	server Server
	opts   Options
}

// Server is a NATS server running in this process (package natsd implements it).
type Server interface {
	// InProcessConn returns a connection to the server that bypasses the network.
	InProcessConn() (net.Conn, error)
	// ClientURL is the URL other processes reach the server on, "" if there is none.
	ClientURL() string
	// Shutdown stops the server and waits until it has stopped.
	Shutdown()
}

// Options says which NATS to use: an external one by URL, or Server in this process.
type Options struct {
	// URL of an external NATS (comma-separated for a cluster).
	URL string
	// Server, used when URL is empty, is the in-process server; the bus owns it from Dial
	// on (Close, or a failed Dial, shuts it down).
	Server Server
	// Name names the client connection (shown by NATS monitoring).
	Name string
	// Replicas is the replica count of the streams and buckets (see Layout); 0 means 1.
	Replicas int
	// Log, if set, records what Ensure and WaitReady do.
	Log *slog.Logger
}

// Open is Dial then Ensure: it connects to the NATS that opts describe and ensures the
// streams and buckets exist, once. Close releases everything.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	b, err := Dial(opts)
	if err != nil {
		return nil, err
	}
	if err := b.Ensure(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Dial connects to the NATS that opts describe. An external NATS that does not answer yet
// is retried in the background (Ensure and WaitReady then report it), so a service can
// start before its cluster.
func Dial(opts Options) (*Bus, error) {
	if opts.Replicas < 0 || opts.Replicas > 5 {
		return nil, fmt.Errorf("-replicas %d (CAIRN_REPLICAS): want 1 to 5 (JetStream's limit), at most the number of NATS servers", opts.Replicas)
	}
	b := &Bus{opts: opts}
	var err error
	if opts.URL != "" {
		b.Conn, err = nats.Connect(opts.URL, nats.Name(opts.Name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
		if err != nil {
			return nil, fmt.Errorf("connecting to NATS at %s: %w (-nats-url / CAIRN_NATS_URL)", opts.URL, err)
		}
	} else {
		if opts.Server == nil {
			return nil, errors.New("opening the bus: no NATS given; set -nats-url (CAIRN_NATS_URL) or run the all-in-one with -data-dir (CAIRN_DATA_DIR)")
		}
		b.server = opts.Server
		b.Conn, err = nats.Connect("", nats.InProcessServer(b.server), nats.Name(opts.Name), nats.MaxReconnects(-1))
		if err != nil {
			b.server.Shutdown()
			return nil, fmt.Errorf("connecting to the embedded NATS: %w", err)
		}
	}
	b.JS, err = jetstream.New(b.Conn)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return b, nil
}

// Ensure runs EnsureStreams once with the bus's replicas and the servers it knows of.
func (b *Bus) Ensure(ctx context.Context) error {
	return EnsureStreams(ctx, b.JS, Layout{Replicas: b.opts.Replicas, Servers: b.servers(), Log: b.opts.Log})
}

// servers is the number of servers this process knows of: the embedded server's configured
// cluster, or the client's server pool (the URLs given and those the cluster announced).
func (b *Bus) servers() int {
	if s, ok := b.server.(interface{ Servers() int }); ok {
		return s.Servers()
	}
	if b.server == nil {
		return len(b.Conn.Servers())
	}
	return 1
}

// ClientURL returns the URL other processes use to reach the embedded server, or "" when
// there is none or it accepts in-process connections only.
func (b *Bus) ClientURL() string {
	if b.server == nil {
		return ""
	}
	return b.server.ClientURL()
}

// Close drains the connection (pending messages are delivered, subscriptions finish) and
// shuts the embedded server down, waiting for both.
func (b *Bus) Close() error {
	var err error
	if b.Conn != nil && !b.Conn.IsClosed() {
		closed := make(chan struct{})
		b.Conn.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if derr := b.Conn.Drain(); derr != nil {
			b.Conn.Close()
		} else {
			select {
			case <-closed:
			case <-time.After(30 * time.Second):
				b.Conn.Close()
				err = errors.New("draining the NATS connection: timed out after 30s")
			}
		}
	}
	if b.server != nil {
		b.server.Shutdown()
	}
	return err
}

func checkFormat(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, MetaBucket)
	if err != nil {
		return fmt.Errorf("opening bucket %s: %w", MetaBucket, err)
	}
	e, err := kv.Get(ctx, "format")
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		_, err = kv.Create(ctx, "format", []byte(strconv.Itoa(FormatVersion)))
		if err == nil || errors.Is(err, jetstream.ErrKeyExists) {
			return checkFormat(ctx, js) // created here or concurrently: read it back
		}
	}
	if err != nil {
		return fmt.Errorf("reading the data format version: %w", err)
	}
	v, err := strconv.Atoi(string(e.Value()))
	if err != nil || v < 1 {
		return refuse("reading the data format version: %s/format is %q, want a positive number; the data is not Cairn's or is damaged", MetaBucket, e.Value())
	}
	if v > FormatVersion {
		return refuse("the data format version is %d, this binary reads up to %d: upgrade cairn, or point it at another data directory", v, FormatVersion)
	}
	// Versions 1..FormatVersion: no migration exists yet (only version 1 was ever written).
	return nil
}
