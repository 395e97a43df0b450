package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
	"github.com/cairn-iot/cairn/test/testenv"
)

// standalone is a service with one flag of its own, as the mains define them.
func standalone(got *string) Standalone {
	return Standalone{
		Name:     "demo",
		What:     "the demo service",
		HTTPAddr: ":0",
		Flags: func(fs *flag.FlagSet) func() New {
			own := fs.String("own", "default", "a flag of the service's own")
			return func() New {
				*got = *own
				return func(context.Context, Deps) (Component, error) { return Component{Name: "demo"}, nil }
			}
		},
	}
}

func TestRunStandaloneRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{name: "no NATS", args: []string{"-nats-url", ""}, want: "-nats-url is empty: the demo service runs against an external NATS"},
		{name: "bad log level", env: map[string]string{"CAIRN_LOG_LEVEL": "loud"}, want: "CAIRN_LOG_LEVEL"},
		{name: "arguments", args: []string{"extra"}, want: "unexpected arguments"},
		{name: "bad NATS URL", args: []string{"-nats-url", "nats://127.0.0.1:port", "-http-addr", "127.0.0.1:0"}, want: "connecting to NATS"},
		{name: "too many replicas", args: []string{"-replicas", "7"}, want: "-replicas 7 (CAIRN_REPLICAS): want 1 to 5"},
		{name: "TLS without a key", args: []string{"-tls-cert", "/nonexistent/cert.pem"}, want: "-tls-key is not"},
		{name: "TLS files missing", args: []string{"-tls-cert", "/nonexistent/cert.pem", "-tls-key", "/nonexistent/key.pem", "-http-addr", "127.0.0.1:0"},
			want: "TLS was asked for and cannot be served: loading the TLS certificate /nonexistent/cert.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var own string
			err := RunStandalone(context.Background(), standalone(&own), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunStandalone(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunStandaloneBuildsTheComponentFromItsFlags(t *testing.T) {
	var own string
	env := map[string]string{"CAIRN_OWN": "from-env"}
	args := []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", "127.0.0.1:0"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // NATS never comes
	defer cancel()
	_ = RunStandalone(ctx, standalone(&own), args, func(k string) string { return env[k] }, io.Discard)
	if own != "from-env" {
		t.Errorf("the component saw -own = %q, want %q (CAIRN_OWN)", own, "from-env")
	}
}

func TestRunStandaloneHelp(t *testing.T) {
	var out strings.Builder
	var own string
	if err := RunStandalone(context.Background(), standalone(&own), []string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("RunStandalone(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"CAIRN_NATS_URL", "CAIRN_HTTP_ADDR", "-own"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output does not name %s:\n%s", want, out.String())
		}
	}
}

// TestWaitsForNATS: a service whose NATS is not running stays up, live but not ready,
// says what it waits for on /health/ready and in its logs, and stops cleanly when told.
func TestWaitsForNATS(t *testing.T) {
	addr := testenv.FreeAddr(t)
	args := []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", addr}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	var own string
	go func() { done <- RunStandalone(ctx, standalone(&own), args, func(string) string { return "" }, logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no /health/ready answer naming nats://127.0.0.1:1 within 30s; logs:\n%s", logs)
		}
		status, body := get(t, "http://"+addr+"/health/ready")
		if status == http.StatusServiceUnavailable && strings.Contains(body, `"waiting_for":"waiting for a JetStream quorum on nats://127.0.0.1:1`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body := get(t, "http://"+addr+"/health/live"); status != http.StatusOK {
		t.Errorf("GET /health/live while waiting = %d %s, want 200", status, body)
	}
	if status, body := get(t, "http://"+addr+"/health"); status != http.StatusOK {
		t.Errorf("GET /health while waiting = %d %s, want 200", status, body)
	}
	if status, body := get(t, "http://"+addr+"/anything"); status != http.StatusServiceUnavailable || !strings.Contains(body, "not ready") {
		t.Errorf("GET /anything while waiting = %d %s, want 503 not ready", status, body)
	}
	if !strings.Contains(logs.String(), "JetStream not ready, retrying") {
		t.Errorf("the logs do not say why the service waits:\n%s", logs)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting service did not stop within 30s of its context's end")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStandaloneServesHTTPS: with -tls-cert and -tls-key, a standalone service's HTTP
// listener is HTTPS (here while it waits for NATS), with the metrics on -metrics-addr.
func TestStandaloneServesHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca, err := devca.New("test")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueFiles(dir, "server", devca.Request{CommonName: "demo", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, metrics := testenv.FreeAddr(t), testenv.FreeAddr(t)
	args := []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", addr, "-tls-cert", cert, "-tls-key", key, "-metrics-addr", metrics}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var own string
	go func() {
		done <- RunStandalone(ctx, standalone(&own), args, func(string) string { return "" }, io.Discard)
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + addr + "/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.TLS != nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS /health/live within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body := get(t, "http://"+metrics+"/metrics"); status != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics on -metrics-addr = %d, want 200 with the Go collector", status)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not stop within 30s of its context's end")
	}
}
