// Package bustest starts an embedded NATS with JetStream for tests: data in a temporary
// directory, streams and buckets ensured, everything closed when the test ends.
package bustest

import (
	"context"
	"testing"

	"github.com/cairn-iot/cairn/platform/bus"
)

// New returns a bus on a fresh embedded server that accepts in-process connections only.
func New(t testing.TB) *bus.Bus {
	t.Helper()
	return open(t, bus.Options{DataDir: t.TempDir(), Name: t.Name()})
}

// Listen returns a bus on a fresh embedded server that also listens on a free loopback port,
// and the nats:// URL other processes (services under test) connect to.
func Listen(t testing.TB) (*bus.Bus, string) {
	t.Helper()
	b := open(t, bus.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Name: t.Name()})
	return b, b.ClientURL()
}

// Open is New with explicit options (a fixed data directory, for restart tests); the bus is
// closed when the test ends, and may be closed earlier.
func Open(t testing.TB, opts bus.Options) *bus.Bus {
	t.Helper()
	return open(t, opts)
}

func open(t testing.TB, opts bus.Options) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("opening the bus: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
