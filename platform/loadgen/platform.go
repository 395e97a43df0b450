package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
)

// Platform is a running all-in-one cairn on loopback (alone, or one node of a cluster),
// with a user, a thing and a channel per protocol to publish into.
type Platform struct {
	HTTPAddr, MQTTAddr string
	Bearer             string
	ThingID, ThingKey  string
	// Channels are the channel ids to publish into, by protocol ("http", "mqtt").
	Channels map[string]string
	// TLS, when set, is the client side of HTTPS and MQTTS: HTTPAddr serves HTTPS and
	// MQTTAddr is the MQTTS listener.
	TLS *tls.Config

	cmd  *exec.Cmd
	done chan struct{}
	logs *bytes.Buffer
	mu   sync.Mutex

	apiOnce sync.Once
	apic    *http.Client // the API calls' client, see client
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
	if err := p.readyAndSetUp(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// readyAndSetUp waits until p is ready and creates its user, thing and channels; on failure
// p is stopped.
func (p *Platform) readyAndSetUp(ctx context.Context) error {
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	if err := p.setup(); err != nil {
		p.Stop()
		return fmt.Errorf("setting up the platform: %w\n%s", err, p.Logs())
	}
	return nil
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
		resp, err := p.client().Get(p.url("/health/ready"))
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
	p.client().CloseIdleConnections()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// StartTLSPlatform is StartPlatform serving HTTPS and MQTTS only (plaintext MQTT off), with
// a server certificate for 127.0.0.1 from a development CA written in certDir.
func StartTLSPlatform(ctx context.Context, bin, dataDir, certDir string, env []string) (*Platform, error) {
	ca, err := devca.New("Cairn loadgen CA")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	cert, key, err := ca.IssueFiles(certDir, "server", devca.Request{CommonName: "cairn", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		return nil, err
	}
	mqtts, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := launch(bin, dataDir, append([]string{"CAIRN_TLS_CERT=" + cert, "CAIRN_TLS_KEY=" + key,
		"CAIRN_MQTTS_ADDR=" + mqtts, "CAIRN_PLAINTEXT=false"}, env...))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	p.TLS, p.MQTTAddr = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, mqtts
	if err := p.readyAndSetUp(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// client is the HTTP client of the API calls (setup, readiness, Stored), made once, with
// p.TLS as it is then; the loads have their own.
func (p *Platform) client() *http.Client {
	p.apiOnce.Do(func() { p.apic = &http.Client{Transport: transport(p.TLS, 2), Timeout: 30 * time.Second} })
	return p.apic
}

// transport is a keep-alive HTTP/1.1 transport for up to conns connections to one host,
// with TLS config tlsc when not nil (a TLSClientConfig without ForceAttemptHTTP2 keeps
// net/http on HTTP/1.1: one request at a time on each connection, as a device sends).
func transport(tlsc *tls.Config, conns int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
	}
}

// url is the URL of path on p's HTTP listener.
func (p *Platform) url(path string) string {
	if p.TLS == nil {
		return "http://" + p.HTTPAddr + path
	}
	return "https://" + p.HTTPAddr + path
}

// api does one JSON request and decodes a 2xx answer into v.
func (p *Platform) api(want int, method, path, auth, body string, v any) (http.Header, error) {
	req, err := http.NewRequest(method, p.url(path), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// setup creates the user (and its token), the thing and one channel per protocol with the
// thing connected to it.
func (p *Platform) setup() error {
	const user = `{"email":"bench@example.com","password":"a-long-secret"}`
	if _, err := p.api(201, "POST", "/users", "", user, nil); err != nil {
		return err
	}
	var tok struct{ Token string }
	if _, err := p.api(201, "POST", "/tokens", "", user, &tok); err != nil {
		return err
	}
	p.Bearer = "Bearer " + tok.Token
	create := func(kind, name string) (id, key string, err error) {
		h, err := p.api(201, "POST", "/"+kind, p.Bearer, `{"name":"`+name+`"}`, nil)
		if err != nil {
			return "", "", err
		}
		var v struct{ ID, Key string }
		if _, err := p.api(200, "GET", h.Get("Location"), p.Bearer, "", &v); err != nil {
			return "", "", err
		}
		return v.ID, v.Key, nil
	}
	var err error
	if p.ThingID, p.ThingKey, err = create("things", "bench"); err != nil {
		return err
	}
	for _, proto := range []string{"http", "mqtt"} {
		id, _, err := create("channels", "bench-"+proto)
		if err != nil {
			return err
		}
		if _, err := p.api(200, "PUT", "/channels/"+id+"/things/"+p.ThingID, p.Bearer, "", nil); err != nil {
			return err
		}
		p.Channels[proto] = id
	}
	return nil
}

// Stored returns how many messages the store holds for channel.
func (p *Platform) Stored(channel string) (int, error) {
	var pg struct{ Total int }
	_, err := p.api(200, "GET", "/channels/"+channel+"/messages?limit=1", p.Bearer, "", &pg)
	return pg.Total, err
}
