package loadgen

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// cairnBin builds the all-in-one into a temporary directory.
func cairnBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the all-in-one")
	}
	bin := filepath.Join(t.TempDir(), "cairn")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cairn-iot/cairn/platform/cmd/cairn").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cairn: %v\n%s", err, out)
	}
	return bin
}

// small is a load of a few hundred messages, bounded so that a stuck platform fails the
// test rather than hanging it.
var small = Load{Messages: 300, Workers: 4, Window: 8, Size: 100, Cap: time.Minute, StoreWait: 30 * time.Second}

// checkLoad runs do and checks that every message was acknowledged and that the store holds
// exactly the acknowledged ones.
func checkLoad(t *testing.T, p *Platform, proto string, do func(context.Context, Load) LoadResult) {
	t.Helper()
	res := do(context.Background(), small)
	if res.Sent != small.Messages || res.Acked != small.Messages || res.Failed != 0 || len(res.Latencies) != res.Acked {
		t.Errorf("%s load: sent %d, acked %d, failed %d (%s), %d latencies; want %d sent and acked, one latency each",
			proto, res.Sent, res.Acked, res.Failed, res.FirstErr, len(res.Latencies), small.Messages)
	}
	n, err := p.Stored(p.Channels[proto])
	if err != nil {
		t.Fatalf("Stored(%s channel): %v", proto, err)
	}
	if res.Stored != res.Acked || n != res.Acked || res.StoredAt <= 0 {
		t.Errorf("%s load: the result says %d stored (at %v), the store holds %d; want the %d acknowledged", proto, res.Stored, res.StoredAt, n, res.Acked)
	}
}

// TestPlatformLoads starts the all-in-one built from the tree, plain and with TLS, and runs
// small HTTP and MQTT loads into it.
func TestPlatformLoads(t *testing.T) {
	bin := cairnBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Run("plain", func(t *testing.T) {
		p, err := StartPlatform(ctx, bin, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		checkLoad(t, p, "http", p.HTTP)
		checkLoad(t, p, "mqtt", p.MQTT)
		wrong := &Platform{HTTPAddr: p.HTTPAddr, MQTTAddr: p.MQTTAddr, Bearer: p.Bearer, ThingID: p.ThingID,
			ThingKey: "wrong", Channels: p.Channels}
		res := wrong.MQTT(ctx, Load{Messages: 10, Workers: 1, Window: 8, Size: 100, Cap: time.Minute, StoreWait: time.Second})
		if res.Acked != 0 || !strings.Contains(res.FirstErr, "connecting to MQTT") {
			t.Errorf("MQTT load with a wrong key: acked %d, first error %q; want nothing acknowledged and the refused connection", res.Acked, res.FirstErr)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		dir := t.TempDir()
		p, err := StartTLSPlatform(ctx, bin, filepath.Join(dir, "data"), filepath.Join(dir, "certs"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		checkLoad(t, p, "http", p.HTTP)
		checkLoad(t, p, "mqtt", p.MQTT)
	})
}

// fakeToken completes when its channel is closed.
type fakeToken struct {
	done chan struct{}
	err  error
}

func (f *fakeToken) Wait() bool                       { <-f.done; return true }
func (f *fakeToken) WaitTimeout(d time.Duration) bool { return f.Wait() }
func (f *fakeToken) Done() <-chan struct{}            { return f.done }
func (f *fakeToken) Error() error                     { return f.err }

// TestWindow checks that window keeps its size of publishes outstanding, no more, and counts
// failed ones as failures. The fake broker acknowledges the oldest publish only when the
// window is full (or the publishing over), so a window that stays short stops the run: it
// fails at the deadline.
func TestWindow(t *testing.T) {
	const size, total = 4, 100
	var mu sync.Mutex
	var outstanding []*fakeToken
	most, n := 0, 0
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			mu.Lock()
			if len(outstanding) > 0 && (len(outstanding) == size || n == total) {
				close(outstanding[0].done)
				outstanding = outstanding[1:]
			}
			mu.Unlock()
		}
	}()
	publish := func() (paho.Token, bool) {
		mu.Lock()
		defer mu.Unlock()
		if n == total {
			return nil, false
		}
		n++
		tok := &fakeToken{done: make(chan struct{})}
		if n == 3 {
			tok.err = paho.ErrNotConnected
		}
		outstanding = append(outstanding, tok)
		most = max(most, len(outstanding))
		return tok, true
	}
	rec := &recorder{}
	latc := make(chan []time.Duration, 1)
	go func() { latc <- window(publish, size, rec) }()
	var lat []time.Duration
	select {
	case lat = <-latc:
	case <-time.After(30 * time.Second):
		t.Fatalf("window(%d) did not finish within 30 s: it did not keep %d publishes outstanding", size, size)
	}
	if len(lat) != total-1 || rec.failed != 1 || !strings.Contains(rec.first, "not Connected") {
		t.Errorf("window: %d acknowledged, %d failed (%q); want %d and the third one failed", len(lat), rec.failed, rec.first, total-1)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != size {
		t.Errorf("window(%d) had up to %d publishes outstanding, want %d", size, most, size)
	}
}
