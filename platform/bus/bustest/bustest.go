// Package bustest starts an embedded NATS with JetStream for tests: data in a temporary
// directory, streams and buckets ensured, everything closed when the test ends.
package bustest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/natsd"
)

// New returns a bus on a fresh embedded server that accepts in-process connections only.
func New(t testing.TB) *bus.Bus {
	t.Helper()
	return Open(t, natsd.Options{DataDir: t.TempDir()})
}

// Listen returns a bus on a fresh embedded server that also listens on a free loopback port,
// and the nats:// URL other processes (services under test) connect to.
func Listen(t testing.TB) (*bus.Bus, string) {
	t.Helper()
	b := Open(t, natsd.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	return b, b.ClientURL()
}

// OpenDir is New on a given data directory (for restart tests).
func OpenDir(t testing.TB, dir string) *bus.Bus {
	t.Helper()
	return Open(t, natsd.Options{DataDir: dir})
}

// Open is New with explicit server options; the bus is closed when the test ends, and may be
// closed earlier.
func Open(t testing.TB, opts natsd.Options) *bus.Bus {
	t.Helper()
	s, err := natsd.Start(opts)
	if err != nil {
		t.Fatalf("starting NATS: %v", err)
	}
	b, err := bus.Open(context.Background(), bus.Options{Server: s, Name: t.Name()})
	if err != nil {
		t.Fatalf("opening the bus: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Cluster starts n embedded servers on loopback that form one JetStream cluster, each also
// listening for clients on a free port, and returns them (stopped when the test ends) and
// their client URLs, comma-separated (the form of -nats-url for a cluster).
func Cluster(t testing.TB, n int) ([]*natsd.Server, string) {
	t.Helper()
	return ClusterFrom(t, n, "", "")
}

// ClusterFrom is Cluster whose first node uses the data directory dir and server name name
// (a single node grown into a cluster); empty dir and name are Cluster's defaults.
func ClusterFrom(t testing.TB, n int, dir, name string) ([]*natsd.Server, string) {
	t.Helper()
	listen := make([]string, n)
	var routes []string
	for i := range listen {
		listen[i] = freeAddr(t)
		routes = append(routes, "nats://"+listen[i])
	}
	servers := make([]*natsd.Server, n)
	errs := make(chan error, n)
	for i := range servers {
		opts := natsd.Options{
			DataDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: fmt.Sprintf("n%d", i+1),
			ClusterName: "cairn-test", ClusterListen: listen[i], Routes: routes,
		}
		if i == 0 && dir != "" {
			opts.DataDir, opts.ServerName = dir, name
		}
		go func() {
			s, err := natsd.Start(opts)
			servers[i] = s
			errs <- err
		}()
	}
	for range servers {
		if err := <-errs; err != nil {
			t.Fatalf("starting a cluster node: %v", err)
		}
	}
	var urls []string
	for _, s := range servers {
		t.Cleanup(s.Shutdown)
		urls = append(urls, s.ClientURL())
	}
	return servers, strings.Join(urls, ",")
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
