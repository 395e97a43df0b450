package service

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cairn-iot/cairn/platform/metrics"
)

// TestLogRequests: at the default level a request that succeeds writes no log line (one per
// published message would cost the HTTP adapter a fifth of its throughput); a refusal is
// logged at info, a failure at warn; every request is counted by route and code.
func TestLogRequests(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "ok":
			w.WriteHeader(http.StatusAccepted)
		case "forbidden":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := logRequests(log, mux)
	route := "POST /channels/{id}/messages"
	before := testutil.ToFloat64(metrics.HTTPRequests.WithLabelValues(route, "202"))
	for _, id := range []string{"ok", "ok", "forbidden", "down"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/channels/"+id+"/messages", nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], `"status":403`) ||
		!strings.Contains(lines[1], `"level":"WARN"`) || !strings.Contains(lines[1], `"status":503`) || !strings.Contains(lines[2], `"status":404`) {
		t.Errorf("logs at info:\n%s\nwant the 403 at info, the 503 at warn, the 404 at info, and nothing for the 202s", logs.String())
	}
	if got := testutil.ToFloat64(metrics.HTTPRequests.WithLabelValues(route, "202")) - before; got != 2 {
		t.Errorf("counted %v requests answered 202 on %s, want 2", got, route)
	}
	if got := testutil.ToFloat64(metrics.HTTPRequests.WithLabelValues("none", "404")); got < 1 {
		t.Errorf("a request no route matched is not counted under route \"none\"")
	}
}
