package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// Load: how many messages must be acknowledged, over each protocol, and when the
// all-in-one is killed (after this many acknowledged messages in all).
const (
	loadPerProtocol = 5000
	loadWorkers     = 3 // per protocol
	loadCap         = 150 * time.Second
)

var killAfter = []int64{1500, 4000, 6500, 9000}

// platform is the all-in-one cairn on loopback, killable and restartable on its data dir.
type platform struct {
	t                  *testing.T
	bin, data          string
	httpAddr, mqttAddr string
	natsAddr           string
	env                []string // more CAIRN_* variables (cluster nodes)
	mu                 sync.Mutex
	cmd                *exec.Cmd
	done               chan struct{}
	logs               *testenv.SyncBuffer
}

func (p *platform) start() {
	p.launch()
	p.waitReady(60 * time.Second)
}

// launch starts cairn without waiting for it to serve (a cluster node needs its peers).
func (p *platform) launch() {
	t := p.t
	cmd := exec.Command(p.bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"CAIRN_HTTP_ADDR=" + p.httpAddr, "CAIRN_MQTT_ADDR=" + p.mqttAddr, "CAIRN_NATS_LISTEN=" + p.natsAddr,
		"CAIRN_DATA_DIR=" + p.data, "CAIRN_BCRYPT_COST=4"}, p.env...)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting cairn: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// waitReady waits until cairn answers /health/ready with 200, at most wait.
func (p *platform) waitReady(wait time.Duration) {
	t := p.t
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	deadline := time.Now().Add(wait)
	for {
		select {
		case <-done:
			t.Fatalf("cairn exited before it was healthy:\n%s", p.logs)
		default:
		}
		resp, err := http.Get("http://" + p.httpAddr + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn not healthy within %s: %v\n%s", wait, err, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the running cairn and waits for it to be gone.
func (p *platform) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func (p *platform) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// api does one JSON request against the platform and decodes the answer into v.
func (p *platform) api(method, path, auth, body string, v any) (int, http.Header, error) {
	req, err := http.NewRequest(method, "http://"+p.httpAddr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if v != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, v); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("decoding %s: %w", b, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

func (p *platform) must(want int, method, path, auth, body string, v any) http.Header {
	p.t.Helper()
	code, h, err := p.api(method, path, auth, body, v)
	if err != nil || code != want {
		p.t.Fatalf("%s %s = %d, %v; want %d", method, path, code, err, want)
	}
	return h
}

// ledger records every publish attempt by its unique id.
type ledger struct {
	mu      sync.Mutex
	acked   map[string]bool // id -> acknowledged
	nAcked  atomic.Int64
	perProt [2]atomic.Int64 // acknowledged over HTTP, MQTT
}

func (l *ledger) attempt(id string, ok bool, proto int) {
	l.mu.Lock()
	l.acked[id] = ok
	l.mu.Unlock()
	if ok {
		l.nAcked.Add(1)
		l.perProt[proto].Add(1)
	}
}

type thing struct{ ID, Key string }

func TestPlatformUnderLoadAndKills(t *testing.T) {
	testenv.LookPath(t, "go", "golang") // the platform is built from source
	bin := filepath.Join(t.TempDir(), "cairn")
	build := exec.Command("go", "build", "-o", bin, "./platform/cmd/cairn")
	build.Dir = fixture.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cairn: %v\n%s", err, out)
	}
	p := &platform{t: t, bin: bin, data: t.TempDir(), logs: &testenv.SyncBuffer{},
		httpAddr: testenv.FreeAddr(t), mqttAddr: testenv.FreeAddr(t), natsAddr: testenv.FreeAddr(t)}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			logs := p.logs.String()
			if len(logs) > 20000 {
				logs = "...\n" + logs[len(logs)-20000:]
			}
			t.Logf("cairn logs:\n%s", logs)
		}
	})

	// A user, a channel the sensor is connected to, another channel, and an outsider.
	p.must(201, "POST", "/users", "", `{"email":"load@example.com","password":"a-long-secret"}`, nil)
	var tok struct{ Token string }
	p.must(201, "POST", "/tokens", "", `{"email":"load@example.com","password":"a-long-secret"}`, &tok)
	bearer := "Bearer " + tok.Token
	create := func(kind, name string) thing {
		h := p.must(201, "POST", "/"+kind, bearer, `{"name":"`+name+`"}`, nil)
		var v thing
		p.must(200, "GET", h.Get("Location"), bearer, "", &v)
		return v
	}
	sensor, outsider := create("things", "sensor"), create("things", "outsider")
	ch, other := create("channels", "load"), create("channels", "other")
	p.must(200, "PUT", "/channels/"+ch.ID+"/things/"+sensor.ID, bearer, "", nil)
	topic := "channels/" + ch.ID + "/messages"

	ctx, cancel := context.WithTimeout(context.Background(), loadCap)
	defer cancel()
	led := &ledger{acked: map[string]bool{}}
	var leaked atomic.Int64 // unauthorised messages that reached the subscriber
	var received atomic.Int64

	// The subscriber: the sensor on the channel, resubscribing after every restart.
	subOpts := paho.NewClientOptions().AddBroker("tcp://" + p.mqttAddr).SetClientID("load-sub").
		SetUsername(sensor.ID).SetPassword(sensor.Key).SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond)
	subOpts.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(topic+"/#", 1, func(_ paho.Client, m paho.Message) {
			received.Add(1)
			if bytes.Contains(m.Payload(), []byte("unauth")) {
				leaked.Add(1)
			}
		})
	})
	sub := paho.NewClient(subOpts)
	sub.Connect().WaitTimeout(10 * time.Second)
	defer sub.Disconnect(0)

	stop := make(chan struct{}) // closed when enough is acknowledged or the cap is hit
	var wg sync.WaitGroup
	enough := func(proto int) bool {
		select {
		case <-stop:
			return true
		case <-ctx.Done():
			return true
		default:
			return led.perProt[proto].Load() >= loadPerProtocol
		}
	}
	httpClient := &http.Client{Timeout: 10 * time.Second}
	for w := range loadWorkers {
		wg.Add(2)
		go func() { // HTTP publisher
			defer wg.Done()
			for n := 0; !enough(0); n++ {
				id := fmt.Sprintf("h%d-%d", w, n)
				req, _ := http.NewRequest("POST", "http://"+p.httpAddr+"/channels/"+ch.ID+"/messages", strings.NewReader(`{"id":"`+id+`"}`))
				req.Header.Set("Authorization", "Thing "+sensor.Key)
				resp, err := httpClient.Do(req)
				ok := false
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == http.StatusAccepted
				}
				led.attempt(id, ok, 0)
				if !ok {
					time.Sleep(20 * time.Millisecond) // the platform is down: retry soon
				}
			}
		}()
		go func() { // MQTT publisher, QoS 1
			defer wg.Done()
			opts := paho.NewClientOptions().AddBroker("tcp://" + p.mqttAddr).SetClientID(fmt.Sprintf("load-pub-%d", w)).
				SetUsername(sensor.ID).SetPassword(sensor.Key).SetCleanSession(true).SetAutoReconnect(false).
				SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
			var c paho.Client
			for n := 0; !enough(1); n++ {
				if c == nil || !c.IsConnectionOpen() {
					if c != nil {
						c.Disconnect(0)
					}
					c = paho.NewClient(opts)
					if tk := c.Connect(); !tk.WaitTimeout(5*time.Second) || tk.Error() != nil {
						c = nil
						time.Sleep(50 * time.Millisecond)
						continue
					}
				}
				id := fmt.Sprintf("m%d-%d", w, n)
				tk := c.Publish(topic+"/load", 1, false, `{"id":"`+id+`"}`)
				ok := tk.WaitTimeout(10*time.Second) && tk.Error() == nil
				led.attempt(id, ok, 1)
				if !ok {
					c.Disconnect(0)
					c = nil
				}
			}
			if c != nil {
				c.Disconnect(100)
			}
		}()
	}

	// Unauthorised publishers, all the while: HTTP and MQTT, to the channel and the other one.
	var unauthTried, unauthAccepted atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		opts := func(user, pass string) *paho.ClientOptions {
			return paho.NewClientOptions().AddBroker("tcp://" + p.mqttAddr).SetClientID("unauth-" + user + pass[:4]).
				SetUsername(user).SetPassword(pass).SetCleanSession(true).SetAutoReconnect(false).
				SetConnectTimeout(2 * time.Second)
		}
		httpCases := []struct{ path, auth string }{
			{"/channels/" + ch.ID + "/messages", "Thing " + outsider.Key},
			{"/channels/" + other.ID + "/messages", "Thing " + sensor.Key},
			{"/channels/" + ch.ID + "/messages", "Thing wrong-key"},
			{"/channels/" + ch.ID + "/messages", bearer},
		}
		mqttCases := []struct{ user, pass, topic string }{
			{outsider.ID, outsider.Key, topic},
			{sensor.ID, sensor.Key, "channels/" + other.ID + "/messages"},
			{sensor.ID, "wrong-key-0000", topic},
			{sensor.ID, sensor.Key, topic + "/+"},
		}
		for n := 0; !enough(0) || !enough(1); n++ {
			hc := httpCases[n%len(httpCases)]
			code, _, err := p.api("POST", hc.path, hc.auth, fmt.Sprintf(`{"unauth":%d}`, n), nil)
			unauthTried.Add(1)
			if err == nil && code < 300 {
				unauthAccepted.Add(1)
				t.Errorf("unauthorised HTTP publish to %s as %q = %d, want refused", hc.path, hc.auth, code)
			}
			mc := mqttCases[n%len(mqttCases)]
			c := paho.NewClient(opts(mc.user, mc.pass))
			if tk := c.Connect(); tk.WaitTimeout(3*time.Second) && tk.Error() == nil {
				c.Publish(mc.topic, 1, false, fmt.Sprintf(`{"unauth":%d}`, n)).WaitTimeout(3 * time.Second)
				c.Disconnect(0)
			}
			unauthTried.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// The killer: SIGKILL and restart on the same data dir as the acknowledged count passes
	// each mark (progress, not time, decides when).
	kills := 0
	for _, mark := range killAfter {
		for led.nAcked.Load() < mark && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if ctx.Err() != nil {
			break
		}
		p.kill()
		p.start()
		kills++
	}
	wg.Wait()
	close(stop)
	if ctx.Err() != nil {
		t.Errorf("the load did not complete within %s: %d HTTP and %d MQTT messages acknowledged", loadCap, led.perProt[0].Load(), led.perProt[1].Load())
	}

	// Read everything back and count each id.
	count := map[string]int{}
	stored, unauthStored := 0, 0
	for offset := 0; ; offset += 100 {
		var pg struct {
			Total    int
			Messages []struct{ Payload string }
		}
		p.must(200, "GET", fmt.Sprintf("/channels/%s/messages?offset=%d&limit=100", ch.ID, offset), bearer, "", &pg)
		for _, m := range pg.Messages {
			var body struct {
				ID     string
				Unauth *int
			}
			json.Unmarshal([]byte(m.Payload), &body)
			if body.Unauth != nil {
				unauthStored++
			}
			count[body.ID]++
			stored++
		}
		if len(pg.Messages) == 0 || offset+100 >= pg.Total {
			break
		}
	}
	var otherPage struct{ Total int }
	p.must(200, "GET", "/channels/"+other.ID+"/messages", bearer, "", &otherPage)

	acked, lost, dup, unackedStored := 0, 0, 0, 0
	var lostIDs, dupIDs []string
	for id, ok := range led.acked {
		switch c := count[id]; {
		case ok && c == 0:
			lost++
			lostIDs = append(lostIDs, id)
		case c > 1:
			dup++
			dupIDs = append(dupIDs, id)
		case !ok && c == 1:
			unackedStored++
		}
		if ok {
			acked++
		}
	}
	for id := range count {
		if _, ok := led.acked[id]; !ok && id != "" {
			t.Errorf("stored message %q was never published", id)
		}
	}
	summary.mu.Lock()
	summary.acked += acked
	summary.lost += lost
	summary.unauthorised += int(leaked.Load()) + unauthStored + int(unauthAccepted.Load()) + otherPage.Total
	summary.mu.Unlock()
	fault(kills, kills-min(kills, lost+dup))
	t.Logf("load: %d published (%d acknowledged: %d HTTP, %d MQTT), %d stored, cairn SIGKILLed and restarted %d times; lost %d, duplicated %d, unacknowledged but stored %d; subscriber received %d; unauthorised publishes tried %d, let through %d",
		len(led.acked), acked, led.perProt[0].Load(), led.perProt[1].Load(), stored, kills, lost, dup, unackedStored, received.Load(), unauthTried.Load(), leaked.Load()+int64(unauthStored)+unauthAccepted.Load()+int64(otherPage.Total))
	if lost > 0 {
		t.Errorf("%d acknowledged messages lost, want 0: %v", lost, first(lostIDs, 10))
	}
	if dup > 0 {
		t.Errorf("%d messages stored more than once, want exactly once: %v", dup, first(dupIDs, 10))
	}
	if received.Load() == 0 {
		t.Errorf("the subscriber received nothing: it cannot show that nothing unauthorised reached it")
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("%d unauthorised publishes reached the subscriber, want 0", n)
	}
	if unauthStored > 0 || otherPage.Total > 0 {
		t.Errorf("unauthorised publishes stored: %d in the channel, %d in the other channel; want 0", unauthStored, otherPage.Total)
	}
	if kills != len(killAfter) {
		t.Errorf("cairn was killed %d times, want %d", kills, len(killAfter))
	}
	if acked < 2*loadPerProtocol {
		t.Errorf("%d messages acknowledged, want at least %d", acked, 2*loadPerProtocol)
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
