package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Platform is a running all-in-one cairn on loopback, with a user, a thing and a channel
// per protocol to publish into.
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
// only, plus the extra CAIRN_* variables in env, waits for /health and creates the user,
// thing and channels. Stop it with Stop.
func StartPlatform(ctx context.Context, bin, dataDir string, env []string) (*Platform, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("cairn exited before it was healthy:\n%s", p.Logs())
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + p.HTTPAddr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("cairn not healthy within 60s: %v\n%s", err, p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.setup(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("setting up the platform: %w\n%s", err, p.Logs())
	}
	return p, nil
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

// api does one JSON request and decodes a 2xx answer into v.
func (p *Platform) api(want int, method, path, auth, body string, v any) (http.Header, error) {
	req, err := http.NewRequest(method, "http://"+p.HTTPAddr+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
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

// Payload returns message n as exactly size bytes of JSON (size >= 32).
func Payload(n, size int) []byte {
	head := fmt.Sprintf(`{"n":%d,"p":"`, n)
	pad := size - len(head) - 2
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// LoadResult is one protocol's run.
type LoadResult struct {
	Sent, Acked, Failed int
	// Latencies are publish-to-acknowledgement times (HTTP 202, MQTT PUBACK), acked only.
	Latencies []time.Duration
	// Publish is from the first publish to the last acknowledgement.
	Publish time.Duration
	// Stored is how many the store held at the end; StoredAt is when it reached Acked,
	// since the first publish (0 if it did not within the wait).
	Stored   int
	StoredAt time.Duration
	// FirstErr is the first failure, if any.
	FirstErr string
}

// Load is a bounded publishing run: Messages in all, or until Cap has passed.
type Load struct {
	Messages int
	// Workers are keep-alive HTTP clients or MQTT connections.
	Workers int
	// Window is the QoS 1 publishes each MQTT connection keeps in flight.
	Window int
	Size   int
	Cap    time.Duration
	// StoreWait bounds the wait for the store to catch up after the last acknowledgement.
	StoreWait time.Duration
}

type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	failed int
	first  string
}

func (r *recorder) ok(d time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.failed++
	if r.first == "" {
		r.first = err.Error()
	}
	r.mu.Unlock()
}

// HTTP publishes over HTTP with l.Workers keep-alive clients.
func (p *Platform) HTTP(ctx context.Context, l Load) LoadResult {
	// The cap stops new publishes; those in flight finish (cancelling them would count the
	// bench's own stop as failures).
	capped, cancel := context.WithTimeout(ctx, l.Cap)
	defer cancel()
	ch := p.Channels["http"]
	tr := &http.Transport{MaxIdleConns: l.Workers, MaxIdleConnsPerHost: l.Workers, MaxConnsPerHost: l.Workers,
		DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + p.HTTPAddr + "/channels/" + ch + "/messages"
	var next atomic.Int64
	rec := &recorder{}
	var wg sync.WaitGroup
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for capped.Err() == nil {
				n := int(next.Add(1))
				if n > l.Messages {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(Payload(n, l.Size)))
				req.Header.Set("Authorization", "Thing "+p.ThingKey)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					rec.fail(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					rec.fail(fmt.Errorf("POST %s = %d, want 202", url, resp.StatusCode))
					continue
				}
				rec.ok(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return p.finish(start, ch, rec, l)
}

// MQTT publishes over MQTT, QoS 1, with l.Workers connections each keeping up to l.Window
// publishes in flight.
func (p *Platform) MQTT(ctx context.Context, l Load) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, l.Cap)
	defer cancel()
	ch := p.Channels["mqtt"]
	topic := "channels/" + ch + "/messages/bench"
	var next atomic.Int64
	rec := &recorder{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := paho.NewClientOptions().AddBroker("tcp://" + p.MQTTAddr).
				SetClientID(fmt.Sprintf("bench-%d", w)).SetUsername(p.ThingID).SetPassword(p.ThingKey).
				SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
				SetWriteTimeout(10 * time.Second)
			c := paho.NewClient(opts)
			if tk := c.Connect(); !tk.WaitTimeout(10*time.Second) || tk.Error() != nil {
				rec.fail(fmt.Errorf("connecting to MQTT: %v", tk.Error()))
				return
			}
			defer c.Disconnect(100)
			type inflight struct {
				tk paho.Token
				t0 time.Time
			}
			window := make(chan inflight, l.Window)
			acks := make(chan struct{})
			go func() { // acknowledgements, in publish order
				defer close(acks)
				for f := range window {
					if !f.tk.WaitTimeout(30*time.Second) || f.tk.Error() != nil {
						rec.fail(fmt.Errorf("MQTT publish not acknowledged: %v", f.tk.Error()))
						continue
					}
					rec.ok(time.Since(f.t0))
				}
			}()
			for ctx.Err() == nil {
				n := int(next.Add(1))
				if n > l.Messages {
					break
				}
				t0 := time.Now()
				window <- inflight{c.Publish(topic, 1, false, Payload(n, l.Size)), t0}
			}
			close(window)
			<-acks
		}()
	}
	wg.Wait()
	return p.finish(start, ch, rec, l)
}

// finish waits (bounded) for the store to hold every acknowledged message.
func (p *Platform) finish(start time.Time, ch string, rec *recorder, l Load) LoadResult {
	r := LoadResult{Publish: time.Since(start), Latencies: rec.lat, Acked: len(rec.lat), Failed: rec.failed,
		FirstErr: rec.first}
	r.Sent = r.Acked + r.Failed
	deadline := time.Now().Add(l.StoreWait)
	for {
		n, err := p.Stored(ch)
		if err != nil && r.FirstErr == "" {
			r.FirstErr = "reading the store: " + err.Error()
		}
		r.Stored = n
		if n >= r.Acked {
			r.StoredAt = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

// Throughput is messages stored per second: Acked/StoredAt, or NaN-free 0 when the store did
// not catch up (then the store holds fewer than were acknowledged).
func (r LoadResult) Throughput() float64 {
	if r.StoredAt <= 0 {
		return 0
	}
	return float64(r.Acked) / r.StoredAt.Seconds()
}
