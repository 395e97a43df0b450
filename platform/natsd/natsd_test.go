package natsd_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/natsd"
)

func TestStartNeedsDataDir(t *testing.T) {
	_, err := natsd.Start(natsd.Options{})
	if err == nil || !strings.Contains(err.Error(), "CAIRN_DATA_DIR") {
		t.Fatalf("Start without data dir = %v, want an error naming CAIRN_DATA_DIR", err)
	}
}

func TestStartListen(t *testing.T) {
	s, err := natsd.Start(natsd.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if u := s.ClientURL(); !strings.HasPrefix(u, "nats://127.0.0.1:") {
		t.Errorf("ClientURL() = %q, want nats://127.0.0.1:<port>", u)
	}
	in, err := natsd.Start(natsd.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Shutdown()
	if u := in.ClientURL(); u != "" {
		t.Errorf("in-process only: ClientURL() = %q, want empty", u)
	}
}

func TestStartBadListen(t *testing.T) {
	_, err := natsd.Start(natsd.Options{DataDir: t.TempDir(), Listen: "localhost"})
	if err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Fatalf("Start with listen %q = %v, want an error asking for host:port", "localhost", err)
	}
}
