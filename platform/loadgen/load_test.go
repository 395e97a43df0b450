package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPayload(t *testing.T) {
	for _, n := range []int{0, 7, 123456789} {
		p := Payload(n, 100)
		if len(p) != 100 {
			t.Errorf("len(Payload(%d, 100)) = %d, want 100", n, len(p))
		}
		var v struct{ N int }
		if err := json.Unmarshal(p, &v); err != nil || v.N != n {
			t.Errorf("Payload(%d, 100) = %s: decodes to %d, %v; want valid JSON with n=%d", n, p, v.N, err, n)
		}
	}
}

func TestAppendPayload(t *testing.T) {
	b := AppendPayload([]byte("head"), 42, 100)
	if got, want := string(b), "head"+string(Payload(42, 100)); got != want {
		t.Errorf("AppendPayload(head, 42, 100) = %q, want %q", got, want)
	}
}

// TestHTTPLoad runs the HTTP load against a fake platform that stores what it accepts and
// refuses every tenth request, and checks that the connections were kept.
func TestHTTPLoad(t *testing.T) {
	var stored, bad, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/channels/ch1/messages":
			var buf bytes.Buffer
			buf.ReadFrom(r.Body)
			if buf.Len() != 100 || r.Header.Get("Authorization") != "Thing key" || r.ContentLength != 100 {
				bad.Add(1)
			}
			if stored.Add(1)%10 == 0 {
				stored.Add(-1)
				http.Error(w, `{"error":"refused"}`, http.StatusServiceUnavailable) // a body to discard
				return
			}
			w.WriteHeader(http.StatusAccepted)
		case r.Method == "GET" && r.URL.Path == "/channels/ch1/messages":
			json.NewEncoder(w).Encode(map[string]int64{"total": stored.Load()})
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := &Platform{HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), ThingKey: "key", Bearer: "Bearer x",
		Channels: map[string]string{"http": "ch1"}}
	res := p.HTTP(context.Background(), Load{Messages: 200, Workers: 4, Size: 100, Cap: time.Minute, StoreWait: 5 * time.Second})
	if res.Sent != 200 || res.Acked+res.Failed != 200 || res.Failed == 0 || len(res.Latencies) != res.Acked {
		t.Errorf("HTTP load: sent %d, acked %d, failed %d, %d latencies; want 200 sent, some refused, one latency per ack", res.Sent, res.Acked, res.Failed, len(res.Latencies))
	}
	if res.Stored != res.Acked || res.StoredAt <= 0 || res.Throughput() <= 0 {
		t.Errorf("HTTP load: stored %d at %v, throughput %v; want every acknowledged message stored", res.Stored, res.StoredAt, res.Throughput())
	}
	if !strings.Contains(res.FirstErr, "503") {
		t.Errorf("FirstErr = %q, want the 503", res.FirstErr)
	}
	if bad.Load() != 0 {
		t.Errorf("%d requests had the wrong size or authorization", bad.Load())
	}
	// 4 workers' connections, a few more while they start (a request waiting for its dial
	// takes the first connection that comes free, the dialled one goes to the idle pool),
	// plus the API client's for the store: without reuse it would be one per message.
	if n := conns.Load(); n > 2*4+2 {
		t.Errorf("the load opened %d connections for 4 workers: keep-alive connections are not reused", n)
	}
}

// TestHTTPLoadCap: the time cap stops new publishes without failing those in flight.
func TestHTTPLoadCap(t *testing.T) {
	var stored atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			time.Sleep(100 * time.Millisecond)
			stored.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		json.NewEncoder(w).Encode(map[string]int64{"total": stored.Load()})
	}))
	defer srv.Close()
	p := &Platform{HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), ThingKey: "key", Channels: map[string]string{"http": "c"}}
	res := p.HTTP(context.Background(), Load{Messages: 1000, Workers: 2, Size: 100, Cap: 10 * time.Millisecond, StoreWait: 5 * time.Second})
	if res.Failed != 0 || res.Acked < 1 || res.Acked >= 1000 {
		t.Errorf("capped HTTP load: acked %d, failed %d (%s); want the in-flight publishes acknowledged, none failed, the run stopped early", res.Acked, res.Failed, res.FirstErr)
	}
}

func TestThroughputWhenTheStoreLags(t *testing.T) {
	r := LoadResult{Acked: 100, Stored: 50}
	if got := r.Throughput(); got != 0 {
		t.Errorf("Throughput() with the store behind = %v, want 0 (a MISS)", got)
	}
	r = LoadResult{Acked: 100, Stored: 100, StoredAt: 2 * time.Second}
	if got := r.Throughput(); got != 50 {
		t.Errorf("Throughput() = %v, want 50", got)
	}
}
