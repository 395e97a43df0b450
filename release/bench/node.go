package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Platform is a running all-in-one cairn on loopback (alone, or one node of a cluster),
// with a user, a thing and a channel per protocol to publish into.
type Platform struct {
	HTTPAddr, MQTTAddr string
	Bearer             string
	ThingID, ThingKey  string
	// Channels are the channel ids to publish into, by protocol ("http", "mqtt").
	Channels map[string]string

	cmd  *exec.Cmd
	done chan struct{}
	logs *bytes.Buffer
	mu   sync.Mutex
}

// FreeAddr returns a free 127.0.0.1 address.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, n)
	for i := range addrs {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	return addrs, nil
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// StartPlatform starts bin (the all-in-one) with its data in dataDir, listening on loopback
// only, plus the extra CAIRN_* variables in env, waits for /health/ready and creates the
// user, thing and channels. Stop it with Stop.
func StartPlatform(ctx context.Context, bin, dataDir string, env []string) (*Platform, error) {
	p, err := launch(bin, dataDir, env)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	if err := p.setup(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("setting up the platform: %w\n%s", err, p.Logs())
	}
	return p, nil
}

// StartCluster starts three all-in-one nodes of bin as one JetStream cluster with
// -replicas 3, their data under dataDir, waits until every node is ready and creates the
// user, thing and channels once (through the first node). Every node serves them.
func StartCluster(ctx context.Context, bin, dataDir string, env []string) ([]*Platform, error) {
	routes, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	var urls []string
	for _, r := range routes {
		urls = append(urls, "nats://"+r)
	}
	var nodes []*Platform
	stop := func() {
		for _, n := range nodes {
			n.Stop()
		}
	}
	for i := range 3 {
		n, err := launch(bin, filepath.Join(dataDir, fmt.Sprintf("n%d", i+1)), append([]string{
			fmt.Sprintf("CAIRN_SERVER_NAME=n%d", i+1), "CAIRN_CLUSTER_NAME=bench", "CAIRN_CLUSTER_LISTEN=" + routes[i],
			"CAIRN_CLUSTER_ROUTES=" + strings.Join(urls, ","), "CAIRN_REPLICAS=3"}, env...))
		if err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx, 90*time.Second); err != nil {
			stop()
			return nil, err
		}
	}
	if err := nodes[0].setup(); err != nil {
		stop()
		return nil, fmt.Errorf("setting up the cluster: %w\n%s", err, nodes[0].Logs())
	}
	for _, n := range nodes[1:] {
		n.Bearer, n.ThingID, n.ThingKey, n.Channels = nodes[0].Bearer, nodes[0].ThingID, nodes[0].ThingKey, nodes[0].Channels
	}
	return nodes, nil
}

// launch starts bin on free loopback addresses without waiting for it.
func launch(bin, dataDir string, env []string) (*Platform, error) {
	addrs, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	p := &Platform{HTTPAddr: addrs[0], MQTTAddr: addrs[1], logs: &bytes.Buffer{}, done: make(chan struct{}),
		Channels: map[string]string{}}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"CAIRN_HTTP_ADDR=" + addrs[0], "CAIRN_MQTT_ADDR=" + addrs[1], "CAIRN_NATS_LISTEN=" + addrs[2],
		"CAIRN_DATA_DIR=" + dataDir, "CAIRN_BCRYPT_COST=4", "CAIRN_LOG_LEVEL=warn"}, env...)
	lw := lockedBuffer{&p.mu, p.logs}
	cmd.Stdout, cmd.Stderr = lw, lw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitReady waits until p answers /health/ready with 200, at most wait; on failure it
// stops p.
func (p *Platform) waitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("cairn exited before it was ready:\n%s", p.Logs())
		case <-ctx.Done():
			p.Stop()
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + p.HTTPAddr + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("cairn not ready within %s: %v\n%s", wait, err, p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Logs returns what cairn wrote so far.
func (p *Platform) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Stop stops cairn with SIGTERM (SIGKILL after 30 s).
func (p *Platform) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
