package faults_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// natsServer builds the stock nats-server of go.mod's version from the module cache, once
// per version, into the user's cache directory (or a temporary one).
func natsServer(t *testing.T) string {
	return cachedBuild(t, "nats-server", "github.com/nats-io/nats-server/v2", "github.com/nats-io/nats-server/v2", "")
}

// natsCLI builds the NATS CLI pinned by lock/natscli.mod, once per version.
func natsCLI(t *testing.T) string {
	return cachedBuild(t, "nats", "github.com/nats-io/natscli", "github.com/nats-io/natscli/nats", "lock/natscli.mod")
}

// cachedBuild builds the main package pkg of module mod (required by go.mod, or by modfile
// when set) into the user's cache directory, named after name and the module's version,
// unless it is there already.
func cachedBuild(t *testing.T, name, mod, pkg, modfile string) string {
	t.Helper()
	testenv.LookPath(t, "go", "golang")
	root := fixture.RepoRoot(t)
	var flags []string
	if modfile != "" {
		flags = []string{"-modfile=" + modfile}
	}
	out, err := exec.Command("go", append(append([]string{"list", "-C", root}, flags...), "-m", "-f", "{{.Version}}", mod)...).Output()
	if err != nil {
		t.Fatalf("finding the version of %s: %v", mod, err)
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	bin := filepath.Join(dir, "cairn-test", name+"-"+strings.TrimSpace(string(out)))
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, pkg)...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// stockNode is one stock nats-server of a three-node JetStream cluster.
type stockNode struct {
	t               *testing.T
	bin, name, dir  string
	client, cluster string
	routes          []string
	mu              sync.Mutex
	cmd             *exec.Cmd
	done            chan struct{}
	logs            *testenv.SyncBuffer
}

func (n *stockNode) start() {
	cmd := exec.Command(n.bin, "-js", "-sd", n.dir, "-n", n.name, "-a", "127.0.0.1", "-p", strings.Split(n.client, ":")[1],
		"--cluster_name", "faults", "--cluster", "nats://"+n.cluster, "--routes", strings.Join(n.routes, ","))
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("starting nats-server %s: %v", n.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", n.client, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server %s not accepting clients within 30s:\n%s", n.name, n.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *stockNode) kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stock is the five services against three stock nats-server nodes with -replicas 3.
type stock struct {
	nodes                              []*stockNode
	users, things, http, mqttSvc, msgs *platform
}

func (s *stock) pubHTTP(int) string  { return s.http.httpAddr }
func (s *stock) readHTTP(int) string { return s.msgs.httpAddr }
func (s *stock) mqtt(int) string     { return s.mqttSvc.mqttAddr }
func (s *stock) readers() []string   { return []string{s.msgs.httpAddr} }

func startStock(t *testing.T) *stock {
	bin := natsServer(t)
	s := &stock{}
	var clients, routes, clusters []string
	for range 3 {
		clients = append(clients, testenv.FreeAddr(t))
		c := testenv.FreeAddr(t)
		clusters = append(clusters, c)
		routes = append(routes, "nats://"+c)
	}
	for i := range 3 {
		n := &stockNode{t: t, bin: bin, name: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), client: clients[i],
			cluster: clusters[i], routes: routes, logs: &testenv.SyncBuffer{}}
		n.start()
		s.nodes = append(s.nodes, n)
		t.Cleanup(func() { n.kill() })
	}
	var urls []string
	for _, c := range clients {
		urls = append(urls, "nats://"+c)
	}
	svcDir := t.TempDir()
	build := exec.Command("go", "build", "-o", svcDir+"/", "./platform/cmd/users", "./platform/cmd/things", "./platform/cmd/http", "./platform/cmd/mqtt", "./platform/cmd/messages")
	build.Dir = fixture.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the services: %v\n%s", err, out)
	}
	svc := func(name string) *platform {
		p := &platform{t: t, bin: filepath.Join(svcDir, name), data: t.TempDir(), logs: &testenv.SyncBuffer{},
			httpAddr: testenv.FreeAddr(t), mqttAddr: testenv.FreeAddr(t), natsAddr: testenv.FreeAddr(t),
			env: []string{"CAIRN_NATS_URL=" + strings.Join(urls, ","), "CAIRN_REPLICAS=3"}}
		p.launch()
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				logs := p.logs.String()
				if len(logs) > 4000 {
					logs = "...\n" + logs[len(logs)-4000:]
				}
				t.Logf("%s logs:\n%s", name, logs)
			}
		})
		return p
	}
	s.users, s.things, s.http, s.mqttSvc, s.msgs = svc("users"), svc("things"), svc("http"), svc("mqtt"), svc("messages")
	for _, p := range []*platform{s.users, s.things, s.http, s.mqttSvc, s.msgs} {
		p.waitReady(90 * time.Second)
	}
	return s
}

func (s *stock) leader(t *testing.T) int {
	return leaderOf(t, func(attempt int) string { return s.nodes[attempt%3].client })
}

// TestStockClusterFaults is TestClusterFaults for the five separate services against three
// stock nats-server nodes, every service with -replicas 3; (d) restarts the messages service
// while a NATS node is down.
func TestStockClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster under load")
	}
	s := startStock(t)
	cl := setUpLoad(t, s, s.users.httpAddr, s.things.httpAddr)
	cl.checkFanOut(t)
	restart := func(n *stockNode) {
		n.start()
		waitCurrent(t, func(attempt int) string { return s.nodes[attempt%3].client })
	}
	cl.run(t, []string{"(a) NATS follower SIGKILLed, restarted", "(b) NATS MESSAGES leader SIGKILLed, restarted",
		"(c) NATS data directory deleted, node rejoins empty", "(d) messages service started while a NATS node is down"}, []func(){
		func() { n := s.nodes[(s.leader(t)+1)%3]; n.kill(); cl.progress(t, 300); restart(n) },
		func() { n := s.nodes[s.leader(t)]; n.kill(); cl.progress(t, 300); restart(n) },
		func() {
			n := s.nodes[(s.leader(t)+2)%3]
			n.kill()
			if err := os.RemoveAll(n.dir); err != nil {
				t.Fatal(err)
			}
			cl.progress(t, 300)
			restart(n)
		},
		func() {
			n := s.nodes[(s.leader(t)+1)%3]
			n.kill()
			s.msgs.stop()
			s.msgs.start() // waits until it is ready, with one NATS node of three down
			cl.progress(t, 300)
			restart(n)
		},
	})
}
