package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/test/testenv"
)

// single is one all-in-one node as a target of the load client.
type single struct{ *platform }

func (s single) pubHTTP(int) string  { return s.httpAddr }
func (s single) readHTTP(int) string { return s.httpAddr }
func (s single) mqtt(int) string     { return s.mqttAddr }
func (s single) readers() []string   { return []string{s.httpAddr} }

// growStored is how many messages the single node holds before it grows into a cluster.
const growStored = 500

// TestGrowIntoCluster follows the README's procedure for growing a single node into a
// three-node cluster with the stock NATS CLI: back the single node up while it runs the
// embedded NATS alone (-nats-only), restore into a new cluster running the same way, start
// the cluster normally with -replicas 3. Users, tokens, things, channels and every stored
// message are there on every node, with three replicas: they survive the loss of the node
// leading MESSAGES.
func TestGrowIntoCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a single node, then a three-node cluster")
	}
	bin, cli := buildCairn(t), natsCLI(t)
	old := &platform{t: t, bin: bin, data: t.TempDir(), logs: &testenv.SyncBuffer{},
		httpAddr: testenv.FreeAddr(t), mqttAddr: testenv.FreeAddr(t), natsAddr: testenv.FreeAddr(t)}
	old.start()
	cl := setUpLoad(t, single{old}, old.httpAddr, old.httpAddr)
	for n := range growStored {
		cl.publishOne(t, old.httpAddr, fmt.Sprintf("g%d", n))
	}
	old.stop()

	backup := filepath.Join(t.TempDir(), "cairn-backup")
	old.env = []string{"CAIRN_NATS_ONLY=true"}
	old.start()
	natsRun(t, cli, old.natsAddr, "backup", "account", "--force", "--consumers", backup)
	old.stop()

	c := startCluster(t, bin, "CAIRN_NATS_ONLY=true")
	restoreEach(t, cli, c.nodes[0].natsAddr, backup)
	for i, p := range c.nodes {
		c.up[i].Store(false)
		p.stop()
		p.env = slices.DeleteFunc(p.env, func(e string) bool { return e == "CAIRN_NATS_ONLY=true" })
	}
	for _, p := range c.nodes {
		p.launch()
	}
	for i, p := range c.nodes {
		p.waitReady(90 * time.Second)
		c.up[i].Store(true)
	}
	waitCurrent(t, func(attempt int) string { return c.nodes[attempt%3].natsAddr })
	checkReplicas(t, c.nodes[1].natsAddr, 3)

	cl.c = c
	for i, p := range c.nodes {
		p.must(200, "GET", "/things", cl.bearer, "", nil) // the token issued by the single node
		cl.publishOne(t, p.httpAddr, fmt.Sprintf("n%d", i))
	}
	want := growStored + 3
	for _, addr := range c.readers() {
		if got := cl.readBack(t, addr); len(got) != want || got["g0"] != 1 || got["g499"] != 1 || got["n2"] != 1 {
			t.Errorf("%s holds %d distinct messages (g0 %d, g499 %d, n2 %d), want %d, each once", addr, len(got), got["g0"], got["g499"], got["n2"], want)
		}
	}
	l := c.leader()
	c.kill(l)
	if got := cl.readBack(t, c.nodes[(l+1)%3].httpAddr); len(got) != want {
		t.Errorf("with the MESSAGES leader n%d down, the store holds %d messages, want %d", l+1, len(got), want)
	}
}

// publishOne publishes one message with payload {"id":id} over HTTP to addr and wants 202.
func (cl *clusterClient) publishOne(t *testing.T, addr, id string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/channels/"+cl.channel+"/messages", strings.NewReader(`{"id":"`+id+`"}`))
	req.Header.Set("Authorization", "Thing "+cl.thing.Key)
	resp, err := cl.http.Do(req)
	if err != nil {
		t.Fatalf("publishing %s to %s: %v", id, addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publishing %s to %s: %s, want 202", id, addr, resp.Status)
	}
}

// restoreEach restores every stream of the backup, with three replicas, as the README's
// loop does: a stream whose restore fails (a cluster that just formed can answer "no
// responders" while a new stream's restore subject reaches every node) is removed and
// restored again, at most five times.
func restoreEach(t *testing.T, cli, addr, backup string) {
	t.Helper()
	dirs, err := os.ReadDir(backup)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		for attempt := 1; ; attempt++ {
			out, err := natsCmd(cli, addr, "backup", "restore", "stream", "--no-progress", "--replicas=3", filepath.Join(backup, d.Name()))
			if err == nil {
				break
			}
			if attempt == 5 {
				t.Fatalf("restoring %s: %v\n%s", d.Name(), err, out)
			}
			natsCmd(cli, addr, "stream", "rm", "-f", d.Name())
			time.Sleep(time.Second)
		}
	}
}

// natsCmd runs the NATS CLI against the server at addr, at most two minutes.
func natsCmd(cli, addr string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, cli, append([]string{"--server", "nats://" + addr}, args...)...).CombinedOutput()
}

// natsRun runs the NATS CLI against the server at addr and fails the test if it fails.
func natsRun(t *testing.T, cli, addr string, args ...string) {
	t.Helper()
	if out, err := natsCmd(cli, addr, args...); err != nil {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// checkReplicas wants every stream (and so every bucket) configured with n replicas.
func checkReplicas(t *testing.T, addr string, n int) {
	t.Helper()
	js, closeJS, err := jetStreamAt(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer closeJS()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names := js.ListStreams(ctx)
	count := 0
	for info := range names.Info() {
		count++
		if info.Config.Replicas != n {
			t.Errorf("stream %s has %d replicas, want %d", info.Config.Name, info.Config.Replicas, n)
		}
	}
	if names.Err() != nil || count < 5 {
		t.Fatalf("listing the streams: %d, %v", count, names.Err())
	}
}
