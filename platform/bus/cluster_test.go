package bus_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster starts a three-node NATS cluster with JetStream on loopback and returns the
// client URLs, comma-separated (the form of -nats-url for a cluster).
func cluster(t *testing.T) string {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	// Start every node before waiting for any: a clustered JetStream node is not ready for
	// connections until it has met a quorum of its routes.
	var servers []*server.Server
	for i, p := range ports {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "cairn-test", Host: "127.0.0.1", Port: p},
			Routes:     routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	var urls []string
	for i, s := range servers {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("cluster node %d not ready", i)
		}
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// TestCluster opens the bus on a three-node cluster, scales MESSAGES to three replicas as an
// operator would, and checks that EnsureStreams (a service starting later) keeps them.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	urls := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var b *bus.Bus
	var err error
	// The cluster elects its JetStream leader after the nodes are up: retry until it serves.
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		b, err = bus.Open(actx, bus.Options{URL: urls, Name: "cluster-test"})
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("opening the bus on the cluster: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer b.Close()
	s, err := b.JS.Stream(ctx, bus.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Replicas = 3
	if _, err := b.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("scaling MESSAGES to 3 replicas: %v", err)
	}
	kv, err := b.JS.KeyValue(ctx, bus.ThingsBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := kv.Status(ctx)
	kcfg := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	kcfg.Replicas = 3
	if _, err := b.JS.UpdateStream(ctx, kcfg); err != nil {
		t.Fatalf("scaling %s to 3 replicas: %v", bus.ThingsBucket, err)
	}

	if err := bus.EnsureStreams(ctx, b.JS); err != nil {
		t.Fatalf("EnsureStreams on the scaled cluster: %v", err)
	}
	for _, name := range []string{bus.MessagesStream, "KV_" + bus.ThingsBucket} {
		s, err := b.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("after EnsureStreams, %s has %d replicas, want 3 (kept)", name, got)
		}
	}
	if _, err := b.JS.Publish(ctx, "channels.c1.messages", []byte("replicated")); err != nil {
		t.Errorf("publishing on the cluster: %v", err)
	}
}
