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
// Streams and buckets are created with one replica. On a NATS cluster, an operator scales
// them (nats stream edit MESSAGES --replicas 3; the bucket streams are KV_<bucket>), and
// EnsureStreams keeps the replica count it finds, so a service starting later never scales
// them back down.
package bus

import (
	"context"
	"errors"
	"fmt"
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
	// Server, used when URL is empty, is the in-process server; the bus owns it from Open
	// on (Close, or a failed Open, shuts it down).
	Server Server
	// Name names the client connection (shown by NATS monitoring).
	Name string
}

// Open connects to the NATS that opts describe, starting the embedded one if needed, and
// ensures the streams and buckets exist. Close releases everything.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	b := &Bus{}
	var err error
	if opts.URL != "" {
		b.Conn, err = Connect(opts.URL, opts.Name)
		if err != nil {
			return nil, err
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
	if err := EnsureStreams(ctx, b.JS); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
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

// Connect connects to an external NATS at url, reconnecting forever once connected.
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w (is it running? -nats-url / CAIRN_NATS_URL)", url, err)
	}
	return nc, nil
}

// EnsureStreams creates the platform's streams and buckets, or updates their configuration
// to this version's; it is idempotent. It then checks the data format version.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	streams := []jetstream.StreamConfig{
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
	for _, cfg := range streams {
		if s, err := js.Stream(ctx, cfg.Name); err == nil {
			cfg.Replicas = s.CachedInfo().Config.Replicas // keep what an operator scaled it to
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("creating stream %s: %w", cfg.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: MetaBucket, Description: "Cairn data format"},
		{Bucket: UsersBucket, Description: "Cairn users"},
		{Bucket: TokensBucket, Description: "Cairn bearer tokens", TTL: TokenTTL},
		{Bucket: ThingsBucket, Description: "Cairn things"},
		{Bucket: ThingKeysBucket, Description: "Cairn thing key index"},
		{Bucket: ChannelsBucket, Description: "Cairn channels"},
		{Bucket: ConnectionsBucket, Description: "Cairn thing-channel connections"},
	}
	for _, cfg := range buckets {
		cfg.Storage = jetstream.FileStorage
		if kv, err := js.KeyValue(ctx, cfg.Bucket); err == nil {
			if st, err := kv.Status(ctx); err == nil {
				if kvs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
					cfg.Replicas = kvs.StreamInfo().Config.Replicas
				}
			}
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("creating key-value bucket %s: %w", cfg.Bucket, err)
		}
	}
	return checkFormat(ctx, js)
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
		return fmt.Errorf("reading the data format version: %s/format is %q, want a positive number; the data is not Cairn's or is damaged", MetaBucket, e.Value())
	}
	if v > FormatVersion {
		return fmt.Errorf("the data format version is %d, this binary reads up to %d: upgrade cairn, or point it at another data directory", v, FormatVersion)
	}
	// Versions 1..FormatVersion: no migration exists yet (only version 1 was ever written).
	return nil
}
