package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/test/testenv"
)

// instance is a running all-in-one.
type instance struct {
	base string
	stop func() error
	logs *testenv.SyncBuffer
}

// start runs the all-in-one in this process with env as its environment, on free loopback
// ports, until stop (or the end of the test).
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	addr := testenv.FreeAddr(t)
	env["CAIRN_HTTP_ADDR"] = addr
	env["CAIRN_MQTT_ADDR"] = testenv.FreeAddr(t)
	env["CAIRN_BCRYPT_COST"] = "4" // the minimum: tests need no slow hashes
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &testenv.SyncBuffer{}
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	base := "http://" + addr
	deadline := time.After(60 * time.Second)
	for {
		resp, herr := http.Get(base + "/health/ready")
		if herr == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("cairn stopped before serving: %v\nlogs:\n%s", err, logs)
		case <-deadline:
			t.Fatalf("cairn did not serve /health within 60s: %v\nlogs:\n%s", herr, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &instance{base: base, stop: stop, logs: logs}
}

func (in *instance) call(t *testing.T, want int, method, path, token, body string, v any) http.Header {
	t.Helper()
	req, err := http.NewRequest(method, in.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: body %s: %v", method, path, b, err)
		}
	}
	return resp.Header
}

// TestAllInOneRestart runs the all-in-one, creates state over HTTP, stops it, starts it again
// on the same data directory and finds everything there.
func TestAllInOneRestart(t *testing.T) {
	dir := t.TempDir()
	in := start(t, map[string]string{"CAIRN_DATA_DIR": dir})
	var health map[string]string
	in.call(t, 200, "GET", "/health", "", "", &health)
	if health["status"] != "ok" || health["service"] != "cairn" {
		t.Errorf("GET /health = %v, want status ok, service cairn", health)
	}
	in.call(t, 201, "POST", "/users", "", `{"email":"ada@example.com","password":"password1"}`, nil)
	var tok struct{ Token string }
	in.call(t, 201, "POST", "/tokens", "", `{"email":"ada@example.com","password":"password1"}`, &tok)
	type entity struct{ ID, Name, Key string }
	var th, ch entity
	in.call(t, 201, "POST", "/things", tok.Token, `{"name":"lamp"}`, &th)
	in.call(t, 201, "POST", "/channels", tok.Token, `{"name":"kitchen"}`, &ch)
	in.call(t, 200, "PUT", fmt.Sprintf("/channels/%s/things/%s", ch.ID, th.ID), tok.Token, "", nil)
	if err := in.stop(); err != nil {
		t.Fatalf("stopping cairn = %v, want nil\nlogs:\n%s", err, in.logs)
	}
	if !strings.Contains(in.logs.String(), `"msg":"shutting down"`) {
		t.Errorf("logs do not record the shutdown:\n%s", in.logs)
	}

	in = start(t, map[string]string{"CAIRN_DATA_DIR": dir})
	var got entity
	in.call(t, 200, "GET", "/things/"+th.ID, tok.Token, "", &got)
	if diff := cmp.Diff(th, got); diff != "" {
		t.Errorf("after restart, GET /things/id (-want +got):\n%s", diff)
	}
	var conns struct{ Total int }
	in.call(t, 200, "GET", "/channels/"+ch.ID+"/things", tok.Token, "", &conns)
	if conns.Total != 1 {
		t.Errorf("after restart, the channel has %d things, want 1", conns.Total)
	}
	in.call(t, 201, "POST", "/tokens", "", `{"email":"ada@example.com","password":"password1"}`, nil)
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}

	// The event log is in the data directory too.
	b := bustest.OpenDir(t, dir)
	evs, err := events.All(context.Background(), b.JS, events.ThingsSubject)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range evs {
		ops = append(ops, e.Fields["operation"])
	}
	if diff := cmp.Diff([]string{"thing.create", "channel.create", "thing.connect"}, ops); diff != "" {
		t.Errorf("events.things operations (-want +got):\n%s", diff)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"bad log level", nil, map[string]string{"CAIRN_LOG_LEVEL": "loud"}, "CAIRN_LOG_LEVEL"},
		{"stray argument", []string{"serve"}, nil, "unexpected arguments"},
		{"bad bcrypt cost", []string{"-bcrypt-cost", "3"}, map[string]string{"CAIRN_DATA_DIR": t.TempDir()}, "bcrypt cost 3"},
		{"taken HTTP port", []string{"-http-addr", "256.0.0.1:1"}, map[string]string{"CAIRN_DATA_DIR": t.TempDir()}, "listening for HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}
