package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestNATSOnly: -nats-only serves the embedded NATS to clients and the health checks, and
// creates no stream; without -nats-listen, or with -nats-url, it is refused.
func TestNATSOnly(t *testing.T) {
	for _, bad := range []map[string]string{
		{"CAIRN_NATS_ONLY": "true"},
		{"CAIRN_NATS_ONLY": "true", "CAIRN_NATS_URL": "nats://127.0.0.1:4222", "CAIRN_NATS_LISTEN": "127.0.0.1:0"},
	} {
		bad["CAIRN_DATA_DIR"] = t.TempDir()
		err := run(context.Background(), nil, func(k string) string { return bad[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-nats-only") {
			t.Errorf("run with %v = %v, want an error naming -nats-only", bad, err)
		}
	}
	natsAddr := testenv.FreeAddr(t)
	in := start(t, map[string]string{"CAIRN_NATS_ONLY": "true", "CAIRN_NATS_LISTEN": natsAddr, "CAIRN_DATA_DIR": t.TempDir()})
	resp, err := http.Get(in.base + "/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /users with -nats-only: %s, want 404 (no service runs)", resp.Status)
	}
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	info, err := js.AccountInfo(t.Context())
	if err != nil || info.Streams != 0 {
		t.Errorf("JetStream with -nats-only: %+v, %v; want it serving with no stream", info, err)
	}
	if err := in.stop(); err != nil {
		t.Errorf("stopping: %v", err)
	}
}
