package natsd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

func TestClusterOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		opts natsd.Options
		want string
	}{
		{"no server name", natsd.Options{ClusterListen: "127.0.0.1:0"}, "-server-name"},
		{"routes without listen", natsd.Options{ServerName: "n1", Routes: []string{"nats://127.0.0.1:6222"}}, "-cluster-listen is empty"},
		{"name alone", natsd.Options{ClusterName: "c"}, "-cluster-name is set"},
		{"bad route", natsd.Options{ServerName: "n1", ClusterListen: "127.0.0.1:0", Routes: []string{"127.0.0.1:6222"}}, "not a nats://host:port URL"},
		{"bad sync", natsd.Options{Sync: "sometimes"}, `want "always" or a positive duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.DataDir = t.TempDir()
			s, err := natsd.Start(tt.opts)
			if err == nil {
				s.Shutdown()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start(%+v) = %v, want an error containing %q", tt.opts, err, tt.want)
			}
		})
	}
}

func TestParseSync(t *testing.T) {
	tests := []struct {
		in       string
		always   bool
		interval time.Duration
	}{
		{"", false, 0},
		{"always", true, 0},
		{"1s", false, time.Second},
	}
	for _, tt := range tests {
		always, interval, err := natsd.ParseSync(tt.in)
		if err != nil || always != tt.always || interval != tt.interval {
			t.Errorf("ParseSync(%q) = %v, %v, %v, want %v, %v", tt.in, always, interval, err, tt.always, tt.interval)
		}
	}
	if _, _, err := natsd.ParseSync("0s"); err == nil {
		t.Error("ParseSync(0s) = nil error, want a refusal")
	}
}

// TestClusterRefusesSingleServerData: a single server's data directory is not started as a
// cluster node, whose JetStream would not see (and might delete) its streams.
func TestClusterRefusesSingleServerData(t *testing.T) {
	dir := t.TempDir()
	s, err := natsd.Start(natsd.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()
	_, err = natsd.Start(natsd.Options{DataDir: dir, ServerName: "n1", ClusterListen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "holds the data of a single server") {
		t.Fatalf("Start as a cluster node on a single server's data = %v, want a refusal", err)
	}
}
