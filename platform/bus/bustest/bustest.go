// Package bustest starts an embedded NATS with JetStream for tests: data in a temporary
// directory, streams and buckets ensured, everything closed when the test ends.
package bustest

import (
	"context"
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
