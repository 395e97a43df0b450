package targets

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/test/testenv"
)

func TestRunEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"defaults", []string{"PATH=/bin"}, []string{"PATH=/bin", "CAIRN_HTTP_ADDR=127.0.0.1:8080", "CAIRN_MQTT_ADDR=127.0.0.1:1883", "CAIRN_MQTTS_ADDR=127.0.0.1:8883", "CAIRN_DATA_DIR=/m/.cairn/data"}},
		{"set ones kept", []string{"CAIRN_HTTP_ADDR=127.0.0.1:9", "CAIRN_DATA_DIR=/d"}, []string{"CAIRN_HTTP_ADDR=127.0.0.1:9", "CAIRN_DATA_DIR=/d", "CAIRN_MQTT_ADDR=127.0.0.1:1883", "CAIRN_MQTTS_ADDR=127.0.0.1:8883"}},
		{"empty means unset", []string{"CAIRN_MQTT_ADDR="}, []string{"CAIRN_MQTT_ADDR=", "CAIRN_HTTP_ADDR=127.0.0.1:8080", "CAIRN_MQTT_ADDR=127.0.0.1:1883", "CAIRN_MQTTS_ADDR=127.0.0.1:8883", "CAIRN_DATA_DIR=/m/.cairn/data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runEnv(tt.env, "/m"); !slices.Equal(got, tt.want) {
				t.Errorf("runEnv(%q) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

// TestRunCairn builds and runs the all-in-one as `mage run` does, on free loopback ports,
// checks that it serves, and that cancelling (Ctrl-C) stops it cleanly.
func TestRunCairn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cairn")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	httpAddr := testenv.FreeAddr(t)
	env := append(os.Environ(),
		"CAIRN_HTTP_ADDR="+httpAddr,
		"CAIRN_MQTT_ADDR="+testenv.FreeAddr(t),
		"CAIRN_DATA_DIR="+filepath.Join(tmp, "data"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runCairn(ctx, runConfig{moduleDir: root, bin: filepath.Join(tmp, "cairn"), env: env, stdout: logs, stderr: logs})
	}()
	deadline := time.After(5 * time.Minute) // runCairn builds cairn first
	for {
		resp, err := http.Get("http://" + httpAddr + "/health/ready")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), `"status":"waiting"`) {
				err = fmt.Errorf("not ready yet: %s", b) // listening, not serving yet: ask again
			} else if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"ok"`) {
				t.Fatalf("GET /health/ready = %d %s, want 200 status ok (or 503 waiting, for a while)", resp.StatusCode, b)
			} else {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("runCairn returned before cairn served: %v\n%s", err, logs)
		case <-deadline:
			t.Fatalf("cairn did not serve /health within 5 minutes of runCairn: %v\n%s", err, logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runCairn after cancel = %v, want nil (a clean stop)\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
		t.Errorf("cairn's logs do not show a clean shutdown:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(tmp, "data", "nats")); err != nil {
		t.Errorf("the data directory was not used: %v", err)
	}
}
