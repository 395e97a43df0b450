// Package platform_test drives the whole Cairn platform from outside, as a user would: it
// builds the binaries (host platform), starts them as processes, and uses real clients (HTTP,
// mosquitto_pub and mosquitto_sub, a nats.go client for the event log).
//
//   - TestAllInOne: the all-in-one cairn, every path on one HTTP port, MQTT, embedded NATS.
//   - TestSeparateServices: users, things, http, mqtt and messages as five processes sharing
//     one NATS (run by the test).
//
// Both run the same scenario (see scenario): user, token, things, channels, connect, HTTP
// publish, MQTT subscribe and publish, the stored messages read back, the events, and every
// refusal case, checking that nothing refused reaches a subscriber or the store. Each process
// must exit 0 on SIGTERM.
package platform_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/test/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds every platform command once for the package's tests and returns their
// directory.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "cairn-platform-test-")
		if buildErr != nil {
			return
		}
		root, err := filepath.Abs("../..")
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"./platform/cmd/cairn", "./platform/cmd/users", "./platform/cmd/things",
			"./platform/cmd/http", "./platform/cmd/mqtt", "./platform/cmd/messages", "./platform/cmd/bootstrap")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// start runs the binary name with env (CAIRN_* variables; nothing else is inherited but PATH
// and HOME), waits for its /health on healthAddr, and returns a function that stops it with
// SIGTERM (called at the end of the test if not before); it must then exit 0. Its logs are
// shown if the test fails.
func start(t *testing.T, name string, env map[string]string, healthAddr string) (stop func()) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans if the test binary dies
	logs := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s exited with %v after SIGTERM, want a clean exit", name, err)
				}
			case <-time.After(40 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("%s did not stop within 40s of SIGTERM", name)
			}
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, logs.String())
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(60 * time.Second)
	// The probe only asks whether it serves; the TLS tests check the certificate themselves.
	probe, scheme := http.DefaultClient, "http://"
	if env["CAIRN_TLS_CERT"] != "" {
		probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		scheme = "https://"
	}
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited before it was healthy: %v\n%s", name, err, logs.String())
		default:
		}
		resp, err := probe.Get(scheme + healthAddr + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy on %s within 60s: %v\n%s", name, healthAddr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endpoints says where each service of a running platform answers.
type endpoints struct {
	users, things, http, messages, bootstrap string // base URLs
	mqtt                                     string // host:port
	nats                                     string // URL
}

func TestAllInOne(t *testing.T) {
	t.Parallel()
	requireMosquitto(t)
	httpAddr, mqttAddr, natsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := map[string]string{
		"CAIRN_HTTP_ADDR":   httpAddr,
		"CAIRN_MQTT_ADDR":   mqttAddr,
		"CAIRN_NATS_LISTEN": natsAddr,
		"CAIRN_DATA_DIR":    t.TempDir(),
		"CAIRN_BCRYPT_COST": "4", // the minimum: the test needs no slow hashes
	}
	stop := start(t, "cairn", env, httpAddr)
	base := "http://" + httpAddr
	e := endpoints{users: base, things: base, http: base, messages: base, bootstrap: base, mqtt: mqttAddr, nats: "nats://" + natsAddr}
	r := scenario(t, e)
	gateway(t, e, r)
	checkWebSocket(t, httpAddr, mqttAddr, r)

	// The stored messages survive a restart on the same data directory.
	stop()
	start(t, "cairn", env, httpAddr)
	var p page
	must(t, 200, "GET", base+"/channels/"+r.channel+"/messages?offset=4", r.bearer, "", &p)
	if p.Total != 5 || len(p.Messages) != 1 || p.Messages[0].Payload != "end" {
		t.Errorf("after a restart, GET messages?offset=4 = %+v, want total 5 and the message \"end\"", p)
	}
}

func TestSeparateServices(t *testing.T) {
	t.Parallel()
	requireMosquitto(t)
	_, natsURL := bustest.Listen(t)
	addr := map[string]string{}
	for _, s := range []string{"users", "things", "http", "mqtt-health", "mqtt", "messages", "bootstrap"} {
		addr[s] = testenv.FreeAddr(t)
	}
	common := func(httpAddr string) map[string]string {
		return map[string]string{"CAIRN_HTTP_ADDR": httpAddr, "CAIRN_NATS_URL": natsURL}
	}
	usersEnv := common(addr["users"])
	usersEnv["CAIRN_BCRYPT_COST"] = "4"
	start(t, "users", usersEnv, addr["users"])
	start(t, "things", common(addr["things"]), addr["things"])
	start(t, "http", common(addr["http"]), addr["http"])
	mqttEnv := common(addr["mqtt-health"])
	mqttEnv["CAIRN_MQTT_ADDR"] = addr["mqtt"]
	mqttEnv["CAIRN_INSTANCE"] = "mqtt-1"
	start(t, "mqtt", mqttEnv, addr["mqtt-health"])
	start(t, "messages", common(addr["messages"]), addr["messages"])
	bootstrapEnv := common(addr["bootstrap"])
	bootstrapEnv["CAIRN_THINGS_URL"] = "http://" + addr["things"]
	bootstrapEnv["CAIRN_BCRYPT_COST"] = "4"
	start(t, "bootstrap", bootstrapEnv, addr["bootstrap"])
	e := endpoints{
		users: "http://" + addr["users"], things: "http://" + addr["things"], http: "http://" + addr["http"],
		messages: "http://" + addr["messages"], bootstrap: "http://" + addr["bootstrap"], mqtt: addr["mqtt"], nats: natsURL,
	}
	gateway(t, e, scenario(t, e))
}

func requireMosquitto(t *testing.T) {
	testenv.LookPath(t, "mosquitto_sub", "mosquitto-clients")
	testenv.LookPath(t, "mosquitto_pub", "mosquitto-clients")
	testenv.LookPath(t, "stdbuf", "coreutils")
}

// call does one HTTP request and returns the status and body.
func call(t *testing.T, method, url, auth string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := clientFor(req.URL.Host).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// must does a request that must answer want, and decodes the JSON answer into v (if not nil).
func must(t *testing.T, want int, method, url, auth, body string, v any) http.Header {
	t.Helper()
	code, b, h := call(t, method, url, auth, []byte(body))
	if code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, b, err)
		}
	}
	return h
}

// subscriber is a running mosquitto_sub.
type subscriber struct {
	cmd   *exec.Cmd
	lines chan string // received messages, "topic payload"
	done  chan struct{}
	out   *testenv.SyncBuffer // everything it printed
}

// subscribe starts mosquitto_sub on topic as (user, pass) and waits for its SUBACK; it returns
// the granted QoS as mosquitto_sub prints it ("1", or "128" when refused).
func subscribe(t *testing.T, mqttAddr, user, pass, topic string, extra ...string) (*subscriber, string) {
	t.Helper()
	host, port, _ := strings.Cut(mqttAddr, ":")
	// stdbuf: mosquitto_sub's debug lines (the SUBACK) are not flushed to a pipe otherwise.
	args := append(append([]string{"-oL", "mosquitto_sub", "-h", host, "-p", port}, credentials(user, pass)...),
		append([]string{"-t", topic, "-q", "1", "-d", "-F", "MSG %t %p"}, extra...)...)
	cmd := exec.Command("stdbuf", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &subscriber{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{}), out: &testenv.SyncBuffer{}}
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mosquitto_sub: %v", err)
	}
	subacked := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			if rest, ok := strings.CutPrefix(line, "MSG "); ok {
				s.lines <- rest
			} else if strings.HasPrefix(line, "Subscribed (mid: ") {
				_, granted, _ := strings.Cut(line, "): ")
				subacked <- granted
			}
		}
	}()
	t.Cleanup(s.stop)
	select {
	case granted := <-subacked:
		return s, granted
	case <-s.done:
		_ = cmd.Wait()
		t.Fatalf("mosquitto_sub -u %s -t %s ended before its SUBACK:\n%s", user, topic, s.out.String())
	}
	return nil, ""
}

// stop kills mosquitto_sub (SIGTERM can deadlock it while it disconnects after a refused
// subscription; the broker sees the connection end either way).
func (s *subscriber) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
	_ = s.cmd.Wait()
}

// until returns the messages received up to and including the one equal to last.
func (s *subscriber) until(t *testing.T, last string) []string {
	t.Helper()
	var got []string
	for line := range s.lines {
		got = append(got, line)
		if line == last {
			return got
		}
	}
	t.Fatalf("mosquitto_sub ended before receiving %q; received %q\n%s", last, got, s.out.String())
	return nil
}

// mqttPublish runs mosquitto_pub and returns its exit error and output.
func mqttPublish(mqttAddr, user, pass, topic, payload string, extra ...string) (string, error) {
	host, port, _ := strings.Cut(mqttAddr, ":")
	args := append(append([]string{"-h", host, "-p", port}, credentials(user, pass)...), append([]string{"-t", topic, "-m", payload}, extra...)...)
	out, err := exec.Command("mosquitto_pub", args...).CombinedOutput()
	return string(out), err
}

// credentials are mosquitto's -u and -P for user and pass, each left out when empty (a
// thing with a client certificate sends neither).
func credentials(user, pass string) []string {
	var args []string
	if user != "" {
		args = append(args, "-u", user)
	}
	if pass != "" {
		args = append(args, "-P", pass)
	}
	return args
}

type thingView struct {
	ID, Name, Key string
}

type page struct {
	Total    uint64 `json:"total"`
	Offset   uint64 `json:"offset"`
	Limit    uint64 `json:"limit"`
	Messages []struct {
		Channel, Subtopic, Publisher, Protocol, Payload, Encoding string
		Created                                                   int64
	} `json:"messages"`
}

// result is what a scenario leaves behind for later checks.
type result struct {
	bearer  string // Authorization of the user
	channel string // the channel with the 5 stored messages
}

func scenario(t *testing.T, e endpoints) result {
	// User and token; malformed JSON changes nothing.
	must(t, 400, "POST", e.users+"/users", "", `{"email": "a@example.com", "password":`, nil)
	must(t, 201, "POST", e.users+"/users", "", `{"email":"a@example.com","password":"a-long-secret"}`, nil)
	must(t, 401, "POST", e.users+"/tokens", "", `{"email":"a@example.com","password":"wrong-secret"}`, nil)
	var tok struct{ Token string }
	must(t, 201, "POST", e.users+"/tokens", "", `{"email":"a@example.com","password":"a-long-secret"}`, &tok)
	bearer := "Bearer " + tok.Token

	// Things and channels.
	create := func(kind, name string) thingView {
		h := must(t, 201, "POST", e.things+"/"+kind, bearer, `{"name":"`+name+`","metadata":{"site":"lab"}}`, nil)
		var v thingView
		must(t, 200, "GET", e.things+h.Get("Location"), bearer, "", &v)
		if v.ID == "" || v.Name != name {
			t.Fatalf("GET %s = %+v, want id and name %q", h.Get("Location"), v, name)
		}
		return v
	}
	must(t, 400, "POST", e.things+"/things", bearer, `{"name":`, nil)
	must(t, 401, "POST", e.things+"/things", "Bearer nope", `{"name":"x"}`, nil)
	sensor, outsider := create("things", "sensor"), create("things", "outsider")
	ch, other := create("channels", "lab"), create("channels", "other")
	must(t, 200, "PUT", e.things+"/channels/"+ch.ID+"/things/"+sensor.ID, bearer, "", nil)
	must(t, 404, "PUT", e.things+"/channels/"+ch.ID+"/things/00000000-0000-0000-0000-000000000000", bearer, "", nil)
	sensorKey, outsiderKey := "Thing "+sensor.Key, "Thing "+outsider.Key
	topic := "channels/" + ch.ID + "/messages"

	// MQTT subscribe: the connected thing may, others are refused.
	sub, granted := subscribe(t, e.mqtt, sensor.ID, sensor.Key, topic+"/#")
	if granted != "1" {
		t.Fatalf("mosquitto_sub as the connected thing: granted QoS %s, want 1", granted)
	}
	refused, granted := subscribe(t, e.mqtt, outsider.ID, outsider.Key, topic+"/#")
	if granted != "128" {
		t.Errorf("mosquitto_sub as a thing not connected: granted %s, want 128 (refused)", granted)
	}
	refused.stop()
	refused, granted = subscribe(t, e.mqtt, sensor.ID, sensor.Key, "channels/"+other.ID+"/messages")
	if granted != "128" {
		t.Errorf("mosquitto_sub on a channel the thing is not connected to: granted %s, want 128 (refused)", granted)
	}
	refused.stop()
	host, port, _ := strings.Cut(e.mqtt, ":")
	if out, err := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-u", sensor.ID, "-P", "wrong-key", "-t", topic, "-C", "1", "-W", "20").CombinedOutput(); err == nil {
		t.Errorf("mosquitto_sub with a wrong key succeeded, want refused:\n%s", out)
	}

	// Accepted publishes, over HTTP and MQTT (both protocol versions).
	must(t, 202, "POST", e.http+"/channels/"+ch.ID+"/messages", sensorKey, `{"v":1}`, nil)
	must(t, 202, "POST", e.http+"/channels/"+ch.ID+"/messages/room/temp", sensorKey, "21.5", nil)
	if out, err := mqttPublish(e.mqtt, sensor.ID, sensor.Key, topic+"/room", "mqtt-1", "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub as the connected thing: %v\n%s", err, out)
	}
	if out, err := mqttPublish(e.mqtt, sensor.ID, sensor.Key, topic, "mqtt-5", "-q", "1", "-V", "5"); err != nil {
		t.Fatalf("mosquitto_pub -V 5 as the connected thing: %v\n%s", err, out)
	}

	// Refused publishes.
	big := strings.Repeat("x", 256<<10+1)
	for _, tc := range []struct {
		name, path, auth, body string
		want                   int
	}{
		{"no key", "/channels/" + ch.ID + "/messages", "", "refused", 401},
		{"wrong key", "/channels/" + ch.ID + "/messages", "Thing wrong-key", "refused", 401},
		{"user token", "/channels/" + ch.ID + "/messages", bearer, "refused", 401},
		{"not connected", "/channels/" + ch.ID + "/messages", outsiderKey, "refused", 403},
		{"other channel", "/channels/" + other.ID + "/messages", sensorKey, "refused", 403},
		{"unknown channel", "/channels/00000000-0000-0000-0000-000000000000/messages", sensorKey, "refused", 404},
		{"oversized", "/channels/" + ch.ID + "/messages", sensorKey, big, 413},
		{"bad subtopic", "/channels/" + ch.ID + "/messages/a%2A", sensorKey, "refused", 400},
	} {
		if code, b, _ := call(t, "POST", e.http+tc.path, tc.auth, []byte(tc.body)); code != tc.want {
			t.Errorf("HTTP publish, %s: POST %s = %d %s, want %d", tc.name, tc.path, code, b, tc.want)
		}
	}
	for _, tc := range []struct {
		name, user, pass, topic string
		args                    []string
		want                    string // in mosquitto_pub's output
	}{
		{"wrong key", sensor.ID, "wrong-key", topic, []string{"-q", "1"}, "not authorised"},
		{"key of another thing", sensor.ID, outsider.Key, topic, []string{"-q", "1"}, "not authorised"},
		// MQTT 3.1.1 has no negative PUBACK: the broker closes the connection of a refused
		// QoS 1 publisher (no DISCONNECT: 3.1.1 has none from the server).
		{"not connected, MQTT 3.1.1", outsider.ID, outsider.Key, topic, []string{"-q", "1"}, "connection was lost"},
		{"not connected, MQTT 5", outsider.ID, outsider.Key, topic, []string{"-q", "1", "-V", "5"}, "Not authorized"},
		{"other channel", sensor.ID, sensor.Key, "channels/" + other.ID + "/messages", []string{"-q", "1"}, "connection was lost"},
		{"outside channels", sensor.ID, sensor.Key, "devices/" + ch.ID, []string{"-q", "1", "-V", "5"}, "Not authorized"},
		{"oversized, MQTT 5", sensor.ID, sensor.Key, topic, []string{"-q", "1", "-V", "5", "-s"}, "failed"},
	} {
		// QoS 1: mosquitto_pub waits for the broker's answer (a refusal or a disconnect), so
		// the refused publish was handled before the next step.
		var out string
		if tc.name == "oversized, MQTT 5" {
			cmd := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", tc.user, "-P", tc.pass, "-t", tc.topic, "-s", "-q", "1", "-V", "5")
			cmd.Stdin = strings.NewReader(big)
			b, _ := cmd.CombinedOutput()
			out = string(b)
		} else {
			out, _ = mqttPublish(e.mqtt, tc.user, tc.pass, tc.topic, "refused", tc.args...)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("mosquitto_pub, %s: output %q, want it to say %q", tc.name, out, tc.want)
		}
	}
	must(t, 202, "POST", e.http+"/channels/"+ch.ID+"/messages", sensorKey, "end", nil)

	// The subscriber got every accepted message once, in order, and nothing refused.
	want := []string{topic + ` {"v":1}`, topic + "/room/temp 21.5", topic + "/room mqtt-1", topic + " mqtt-5", topic + " end"}
	if diff := cmp.Diff(want, sub.until(t, topic+" end")); diff != "" {
		t.Errorf("mosquitto_sub received (-want +got):\n%s", diff)
	}

	// The store holds the same, readable by the owner and by a connected thing.
	var p page
	must(t, 200, "GET", e.messages+"/channels/"+ch.ID+"/messages?limit=100", bearer, "", &p)
	type stored struct{ Subtopic, Publisher, Protocol, Payload string }
	var got []stored
	for _, m := range p.Messages {
		if m.Channel != ch.ID || m.Created == 0 {
			t.Errorf("stored message %+v: want channel %s and a creation time", m, ch.ID)
		}
		got = append(got, stored{m.Subtopic, m.Publisher, m.Protocol, m.Payload})
	}
	wantStored := []stored{
		{"", sensor.ID, "http", `{"v":1}`}, {"room.temp", sensor.ID, "http", "21.5"},
		{"room", sensor.ID, "mqtt", "mqtt-1"}, {"", sensor.ID, "mqtt", "mqtt-5"}, {"", sensor.ID, "http", "end"},
	}
	if p.Total != 5 {
		t.Errorf("GET messages: total %d, want 5", p.Total)
	}
	if diff := cmp.Diff(wantStored, got); diff != "" {
		t.Errorf("stored messages (-want +got):\n%s", diff)
	}
	must(t, 200, "GET", e.messages+"/channels/"+ch.ID+"/messages?offset=4&limit=1", sensorKey, "", &p)
	if p.Total != 5 || len(p.Messages) != 1 || p.Messages[0].Payload != "end" {
		t.Errorf("GET messages?offset=4&limit=1 as the thing = %+v, want total 5 and the message \"end\"", p)
	}
	must(t, 200, "GET", e.messages+"/channels/"+other.ID+"/messages", bearer, "", &p)
	if p.Total != 0 {
		t.Errorf("GET messages of the channel nobody may publish to: total %d, want 0", p.Total)
	}
	must(t, 401, "GET", e.messages+"/channels/"+ch.ID+"/messages", "", "", nil)
	must(t, 401, "GET", e.messages+"/channels/"+ch.ID+"/messages", "Bearer nope", "", nil)
	must(t, 403, "GET", e.messages+"/channels/"+ch.ID+"/messages", outsiderKey, "", nil)
	must(t, 404, "GET", e.messages+"/channels/00000000-0000-0000-0000-000000000000/messages", bearer, "", nil)
	must(t, 400, "GET", e.messages+"/channels/"+ch.ID+"/messages?limit=lots", bearer, "", nil)

	// The event log, read with a plain NATS client.
	nc, err := nats.Connect(e.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	thingEvents, err := events.All(ctx, js, events.ThingsSubject)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, ev := range thingEvents {
		f := ev.Fields
		ops = append(ops, f["operation"]+" "+f["id"]+f["chan_id"]+" "+f["thing_id"])
	}
	wantOps := []string{
		"thing.create " + sensor.ID + " ", "thing.create " + outsider.ID + " ",
		"channel.create " + ch.ID + " ", "channel.create " + other.ID + " ",
		"thing.connect " + ch.ID + " " + sensor.ID,
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("events.things (-want +got):\n%s", diff)
	}
	// MQTT events: every authenticated connection appends connect, then disconnect once it
	// ends (the broker notices asynchronously: wait until they balance). The sensor connected
	// at least 4 times (2 subscribers, 2 accepted publishers), the outsider at least twice.
	sub.stop()
	for {
		mqttEvents, err := events.All(ctx, js, events.MQTTSubject)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, ev := range mqttEvents {
			f := ev.Fields
			counts[f["thing_id"]+" "+f["event_type"]]++
			if f["timestamp"] == "" || f["instance"] == "" || len(f) != 4 {
				t.Fatalf("MQTT event %v: want exactly thing_id, timestamp, event_type and instance", f)
			}
			if f["thing_id"] != sensor.ID && f["thing_id"] != outsider.ID {
				t.Fatalf("MQTT event %v: unknown thing (a refused connection must not append events)", f)
			}
		}
		balanced := counts[sensor.ID+" connect"] == counts[sensor.ID+" disconnect"] &&
			counts[outsider.ID+" connect"] == counts[outsider.ID+" disconnect"]
		if balanced && counts[sensor.ID+" connect"] >= 4 && counts[outsider.ID+" connect"] >= 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("events.mqtt counts: %v, want connects balanced by disconnects, at least 4 and 2", counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return result{bearer: bearer, channel: ch.ID}
}
