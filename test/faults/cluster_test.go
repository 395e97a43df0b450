package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// clusterLoad is how many messages the cluster test has acknowledged in all, over HTTP and
// MQTT, spread evenly over the time before the faults and each fault.
const (
	clusterLoad = 5000
	clusterCap  = 4 * time.Minute
)

// cluster is three all-in-one cairn nodes forming one JetStream cluster with -replicas 3.
type cluster struct {
	t     *testing.T
	nodes []*platform
	up    []atomic.Bool
}

func buildCairn(t *testing.T) string {
	t.Helper()
	testenv.LookPath(t, "go", "golang")
	bin := filepath.Join(t.TempDir(), "cairn")
	build := exec.Command("go", "build", "-o", bin, "./platform/cmd/cairn")
	build.Dir = fixture.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cairn: %v\n%s", err, out)
	}
	return bin
}

// startCluster starts three cairn nodes as one cluster, with more CAIRN_* variables env,
// and waits until each is ready.
func startCluster(t *testing.T, bin string, env ...string) *cluster {
	c := &cluster{t: t, up: make([]atomic.Bool, 3)}
	var routes, listen []string
	for range 3 {
		a := testenv.FreeAddr(t)
		listen = append(listen, a)
		routes = append(routes, "nats://"+a)
	}
	for i := range 3 {
		p := &platform{t: t, bin: bin, data: t.TempDir(), logs: &testenv.SyncBuffer{},
			httpAddr: testenv.FreeAddr(t), mqttAddr: testenv.FreeAddr(t), natsAddr: testenv.FreeAddr(t),
			env: []string{fmt.Sprintf("CAIRN_SERVER_NAME=n%d", i+1), "CAIRN_CLUSTER_NAME=faults",
				"CAIRN_CLUSTER_LISTEN=" + listen[i], "CAIRN_CLUSTER_ROUTES=" + strings.Join(routes, ","), "CAIRN_REPLICAS=3"}}
		p.env = append(p.env, env...)
		c.nodes = append(c.nodes, p)
		p.launch()
	}
	for i, p := range c.nodes {
		p.waitReady(90 * time.Second)
		c.up[i].Store(true)
	}
	t.Cleanup(func() {
		for i, p := range c.nodes {
			if c.up[i].Load() {
				p.stop()
			}
			if t.Failed() {
				logs := p.logs.String()
				if len(logs) > 8000 {
					logs = "...\n" + logs[len(logs)-8000:]
				}
				t.Logf("n%d logs:\n%s", i+1, logs)
			}
		}
	})
	return c
}

// target is where the fault tests publish and read: a cluster of all-in-one nodes, or the
// separate services on a cluster of stock nats-server.
type target interface {
	pubHTTP(n int) string  // host:port taking POST /channels/<id>/messages, n-th choice
	readHTTP(n int) string // host:port answering GET /channels/<id>/messages
	mqtt(n int) string     // host:port of an MQTT listener
	readers() []string     // every reader, for the final read-back
}

func (c *cluster) pubHTTP(n int) string  { return c.any(n).httpAddr }
func (c *cluster) readHTTP(n int) string { return c.any(n).httpAddr }
func (c *cluster) mqtt(n int) string     { return c.any(n).mqttAddr }
func (c *cluster) readers() []string {
	var r []string
	for _, p := range c.nodes {
		r = append(r, p.httpAddr)
	}
	return r
}

// any returns an up node, the n-th one round robin.
func (c *cluster) any(n int) *platform {
	for k := range 3 {
		if i := (n + k) % 3; c.up[i].Load() {
			return c.nodes[i]
		}
	}
	return c.nodes[n%3]
}

func (c *cluster) kill(i int) { c.up[i].Store(false); c.nodes[i].kill() }

// restart starts node i again and waits until it serves and the cluster has caught up.
func (c *cluster) restart(i int) {
	c.serve(i)
	waitCurrent(c.t, func(attempt int) string { return c.nodes[attempt%3].natsAddr })
}

// serve starts node i again and waits until it serves.
func (c *cluster) serve(i int) {
	c.nodes[i].launch()
	c.nodes[i].waitReady(90 * time.Second)
	c.up[i].Store(true)
}

// leader returns the index of the node leading MESSAGES, asked through an up node.
func (c *cluster) leader() int {
	return leaderOf(c.t, func(int) string { return c.any(0).natsAddr })
}

// leaderOf returns the index of the node (named n1, n2, n3) leading MESSAGES, asking the
// NATS client address addr(attempt).
func leaderOf(t *testing.T, addr func(attempt int) string) int {
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		js, closeJS, err := jetStreamAt(addr(attempt))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s, err := js.Stream(ctx, "MESSAGES")
			cancel()
			closeJS()
			if err == nil && s.CachedInfo().Cluster != nil {
				var i int
				if _, err := fmt.Sscanf(s.CachedInfo().Cluster.Leader, "n%d", &i); err == nil && i >= 1 && i <= 3 {
					return i - 1
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no MESSAGES leader within 60s")
	return 0
}

// window is what happened while one fault was in effect.
type window struct {
	name             string
	acked, attempted atomic.Int64
	errBuckets       sync.Map // 100 ms buckets with a failed publish
	wrongReads       atomic.Int64
	mu               sync.Mutex
	wrongs           []string // the first few wrong reads, described
}

// wrong counts a wrong read and keeps the first few descriptions for the failure message.
func (w *window) wrong(desc string) {
	w.wrongReads.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.wrongs) < 5 {
		w.wrongs = append(w.wrongs, desc)
	}
}

func (w *window) failed() { w.errBuckets.Store(time.Now().UnixMilli()/100, true) }

func (w *window) errSeconds() float64 {
	n := 0
	w.errBuckets.Range(func(any, any) bool { n++; return true })
	return float64(n) / 10
}

// checkFanOut: a subscriber on the third node receives, exactly once each, what is published
// over HTTP on the first node and over MQTT on the second.
func (cl *clusterClient) checkFanOut(t *testing.T) {
	topic := cl.topic
	var mu sync.Mutex
	got := map[string]int{}
	subOpts := paho.NewClientOptions().AddBroker("tcp://" + cl.c.mqtt(2)).SetClientID("cluster-sub").
		SetUsername(cl.thing.ID).SetPassword(cl.thing.Key).SetCleanSession(true)
	sub := paho.NewClient(subOpts)
	if tk := sub.Connect(); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
		t.Fatalf("connecting the subscriber to n3: %v", tk.Error())
	}
	defer sub.Disconnect(0)
	if tk := sub.Subscribe(topic+"/#", 1, func(_ paho.Client, m paho.Message) {
		var body struct{ ID string }
		json.Unmarshal(m.Payload(), &body)
		mu.Lock()
		got[body.ID]++
		mu.Unlock()
	}); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
		t.Fatalf("subscribing on n3: %v", tk.Error())
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + cl.c.mqtt(1)).SetClientID("cluster-fan-pub").
		SetUsername(cl.thing.ID).SetPassword(cl.thing.Key).SetCleanSession(true))
	if tk := pub.Connect(); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
		t.Fatalf("connecting the publisher to n2: %v", tk.Error())
	}
	defer pub.Disconnect(0)
	const each = 30
	for i := range each {
		req, _ := http.NewRequest("POST", "http://"+cl.c.pubHTTP(0)+"/channels/"+cl.channel+"/messages", strings.NewReader(fmt.Sprintf(`{"id":"fan-h%d"}`, i)))
		req.Header.Set("Authorization", "Thing "+cl.thing.Key)
		resp, err := cl.http.Do(req)
		code := 0
		if err == nil {
			resp.Body.Close()
			code = resp.StatusCode
		}
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("publishing over HTTP on n1 = %d, %v; want 202", code, err)
		}
		if tk := pub.Publish(topic, 1, false, fmt.Sprintf(`{"id":"fan-m%d"}`, i)); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
			t.Fatalf("publishing over MQTT on n2: %v", tk.Error())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2*each || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive right behind
	mu.Lock()
	defer mu.Unlock()
	for i := range each {
		for _, id := range []string{fmt.Sprintf("fan-h%d", i), fmt.Sprintf("fan-m%d", i)} {
			if got[id] != 1 {
				t.Errorf("the subscriber on n3 received %s %d times, want exactly once", id, got[id])
			}
		}
	}
}

// readBack reads the channel's whole store from node p, retrying 503s for at most a minute.
func (cl *clusterClient) readBack(t *testing.T, p string) map[string]int {
	count := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for offset := 0; ; {
		code, total, ids, err := cl.page(p, offset, 100)
		if err != nil || code != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("reading the store from %s: %d, %v", p, code, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, id := range ids {
			count[id]++
		}
		offset += len(ids)
		if len(ids) == 0 || offset >= total {
			return count
		}
	}
}

// verify reads the store back from every node and prints, per fault, what was acknowledged,
// stored, lost and duplicated, the wrong reads and the seconds with failed publishes.
func (cl *clusterClient) verify(t *testing.T) {
	var count map[string]int
	for i, p := range cl.c.readers() {
		got := readBackTotal(cl.readBack(t, p))
		if i == 0 {
			count = cl.readBack(t, p)
		} else if want := readBackTotal(count); got != want {
			t.Errorf("reader %d holds %d messages, the first %d; want every node to hold the same", i+1, got, want)
		}
	}
	type stats struct{ acked, stored, lost, dup int }
	per := make([]stats, len(cl.windows))
	for id, a := range cl.led {
		s := &per[a.win]
		if a.ok {
			s.acked++
		}
		switch c := count[id]; {
		case a.ok && c == 0:
			s.lost++
		case c > 1:
			s.dup++
		}
		if count[id] > 0 {
			s.stored++
		}
	}
	for id := range count {
		if _, ok := cl.led[id]; !ok && !strings.HasPrefix(id, "fan-") {
			t.Errorf("stored message %q was never published", id)
		}
	}
	acked, lost := 0, 0
	for i, w := range cl.windows {
		s := per[i]
		acked += s.acked
		lost += s.lost
		t.Logf("fault %-58s acknowledged %5d, stored %5d, lost %d, duplicated %d, wrong reads %d, seconds of errors %.1f",
			w.name+":", s.acked, s.stored, s.lost, s.dup, w.wrongReads.Load(), w.errSeconds())
		if s.lost > 0 || s.dup > 0 || w.wrongReads.Load() > 0 {
			t.Errorf("%s: lost %d, duplicated %d, wrong reads %d; want 0 each\n%s", w.name, s.lost, s.dup, w.wrongReads.Load(), strings.Join(w.wrongs, "\n"))
		}
	}
	summary.mu.Lock()
	summary.acked += acked
	summary.lost += lost
	summary.mu.Unlock()
	fault(len(cl.windows)-1, len(cl.windows)-1-min(len(cl.windows)-1, lost))
	if acked < clusterLoad {
		t.Errorf("%d messages acknowledged, want at least %d", acked, clusterLoad)
	}
}

func readBackTotal(count map[string]int) int {
	n := 0
	for _, c := range count {
		n += c
	}
	return n
}

// waitCurrent waits until every replica of every stream is current (a restarted or emptied
// node has caught up), asking through addr(attempt): taking another node down before that
// would leave streams without a quorum, a fault of its own.
func waitCurrent(t *testing.T, addr func(attempt int) string) {
	deadline := time.Now().Add(90 * time.Second)
	for attempt := 0; ; attempt++ {
		if time.Now().After(deadline) {
			t.Fatal("the cluster's replicas did not catch up within 90s")
		}
		if allCurrent(addr(attempt)) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allCurrent(addr string) bool {
	js, closeJS, err := jetStreamAt(addr)
	if err != nil {
		return false
	}
	defer closeJS()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	n := 0
	for name := range names.Name() {
		n++
		s, err := js.Stream(ctx, name)
		if err != nil {
			return false
		}
		cl := s.CachedInfo().Cluster
		if cl == nil || cl.Leader == "" || len(cl.Replicas) < s.CachedInfo().Config.Replicas-1 {
			return false
		}
		for _, r := range cl.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
	}
	return names.Err() == nil && n > 0
}

// jetStreamAt connects to the NATS client address addr (at most 2 s) and returns its
// JetStream and the function that closes the connection.
func jetStreamAt(addr string) (jetstream.JetStream, func(), error) {
	nc, err := nats.Connect("nats://"+addr, nats.Timeout(2*time.Second))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}
