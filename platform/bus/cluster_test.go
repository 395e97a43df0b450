package bus_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
)

// openWaiting opens the bus with opts, waiting (with a deadline) for the cluster's quorum.
func openWaiting(t *testing.T, opts bus.Options) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := bus.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.WaitReady(ctx, nil); err != nil {
		t.Fatalf("waiting for the cluster: %v", err)
	}
	return b
}

func replicas(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("reading stream %s: %v", name, err)
	}
	return s.CachedInfo().Config.Replicas
}

var allStreams = []string{bus.MessagesStream, bus.EventsStream, "KV_" + bus.MetaBucket, "KV_" + bus.UsersBucket,
	"KV_" + bus.TokensBucket, "KV_" + bus.ThingsBucket, "KV_" + bus.ThingKeysBucket, "KV_" + bus.ChannelsBucket, "KV_" + bus.ConnectionsBucket}

// TestReplicas: on a three-node cluster, a first service with replicas 1 creates R1
// streams; one with -replicas 3 raises every stream and bucket in place; one with
// -replicas 1 keeps 3 and says so; -replicas 5 is refused naming the 3 servers.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	_, urls := bustest.Cluster(t, 3)
	b := openWaiting(t, bus.Options{URL: urls, Name: "r1"})
	if _, err := b.JS.Publish(context.Background(), "channels.c1.messages", []byte("before")); err != nil {
		t.Fatal(err)
	}
	for _, name := range allStreams {
		if got := replicas(t, b.JS, name); got != 1 {
			t.Errorf("with replicas 1, %s has %d replicas, want 1", name, got)
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	openWaiting(t, bus.Options{URL: urls, Name: "r3", Replicas: 3, Log: log})
	for _, name := range allStreams {
		if got := replicas(t, b.JS, name); got != 3 {
			t.Errorf("after -replicas 3, %s has %d replicas, want 3 (raised in place)", name, got)
		}
	}
	if !strings.Contains(logs.String(), "raising the replicas") {
		t.Errorf("raising replicas was not logged:\n%s", logs.String())
	}
	s, err := b.JS.Stream(context.Background(), bus.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetLastMsgForSubject(context.Background(), "channels.c1.messages"); err != nil || string(m.Data) != "before" {
		t.Errorf("after raising the replicas, the last message = %v, %v, want before", m, err)
	}

	logs.Reset()
	openWaiting(t, bus.Options{URL: urls, Name: "r1 again", Replicas: 1, Log: log})
	if got := replicas(t, b.JS, bus.MessagesStream); got != 3 {
		t.Errorf("after -replicas 1, MESSAGES has %d replicas, want 3 (kept)", got)
	}
	if !strings.Contains(logs.String(), "keeping the stream's replicas") {
		t.Errorf("keeping more replicas was not logged:\n%s", logs.String())
	}

	b5, err := bus.Dial(bus.Options{URL: urls, Name: "r5", Replicas: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer b5.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = b5.WaitReady(ctx, nil)
	if !errors.Is(err, bus.ErrRefused) || !strings.Contains(err.Error(), "3 server(s)") {
		t.Fatalf("WaitReady with -replicas 5 on 3 servers = %v, want a refusal naming 3 server(s)", err)
	}
}

// TestReplicasSingleServer: replicas above 1 on a server that is not clustered are refused.
func TestReplicasSingleServer(t *testing.T) {
	_, url := bustest.Listen(t)
	b, err := bus.Dial(bus.Options{URL: url, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = b.WaitReady(ctx, nil)
	if !errors.Is(err, bus.ErrRefused) || !strings.Contains(err.Error(), "1 server") {
		t.Fatalf("WaitReady with -replicas 3 on one server = %v, want a refusal naming 1 server", err)
	}
}
