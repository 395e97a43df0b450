package platform_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// httpsPublishes publishes over HTTPS with curl, by certificate, by key and with bad
// credentials, and returns the payloads that were accepted (each payload is its case's name).
func httpsPublishes(t *testing.T, p *tlsPlatform, aCert, aKey, bCert, bKey, expCert, expKey, oCert, oKey string) []string {
	url := p.base + "/channels/" + p.channel + "/messages"
	for _, tc := range []struct {
		name string
		args []string
		want string // HTTP status; "000": the handshake is refused
	}{
		{"https-cert", []string{"--cert", aCert, "--key", aKey}, "202"},
		{"https-key", []string{"-H", "Authorization: Thing " + p.a.Key}, "202"},
		{"https-cert-and-key", []string{"--cert", aCert, "--key", aKey, "-H", "Authorization: Thing " + p.a.Key}, "202"},
		{"https-cert-other-key", []string{"--cert", aCert, "--key", aKey, "-H", "Authorization: Thing " + p.b.Key}, "401"},
		{"https-not-connected", []string{"--cert", bCert, "--key", bKey}, "403"},
		{"https-nothing", nil, "401"},
		{"https-expired", []string{"--cert", expCert, "--key", expKey}, "000"},
		{"https-other-ca", []string{"--cert", oCert, "--key", oKey}, "000"},
	} {
		args := append(append([]string{"--cacert", p.dev.caFile}, tc.args...), "-X", "POST", "--data-binary", tc.name, url)
		code, rc := curlCode(t, args...)
		if code != tc.want || (tc.want == "000") != (rc != 0) {
			t.Errorf("%s: curl answered %s (exit %d), want %s", tc.name, code, rc, tc.want)
		}
	}
	// Without the CA, curl refuses the server (60: peer certificate cannot be
	// authenticated); plain HTTP on the HTTPS port gets 400.
	if _, rc := curlCode(t, "-X", "POST", "-H", "Authorization: Thing "+p.a.Key, "--data-binary", "x", url); rc != 60 {
		t.Errorf("curl without --cacert: exit %d, want 60 (the server's certificate is not trusted)", rc)
	}
	if code, _ := curlCode(t, "http://"+p.httpAddr+"/health"); code != "400" {
		t.Errorf("plain HTTP on the HTTPS listener: %s, want 400", code)
	}
	return []string{"https-cert", "https-key", "https-cert-and-key"}
}

// mqttsPublishes publishes over MQTTS with mosquitto_pub and returns the accepted payloads.
func mqttsPublishes(t *testing.T, p *tlsPlatform, topic, aCert, aKey, bCert, bKey, expCert, expKey, oCert, oKey string) []string {
	var accepted []string
	for _, tc := range []struct {
		name, user, pass string
		args             []string
		ok               bool // mosquitto_pub exits 0
	}{
		{"mqtts-cert", "", "", []string{"--cert", aCert, "--key", aKey}, true},
		{"mqtts-cert-username", p.a.ID, "", []string{"--cert", aCert, "--key", aKey}, true},
		{"mqtts-key", p.a.ID, p.a.Key, nil, true},
		{"mqtts-cert-v5", "", "", []string{"--cert", aCert, "--key", aKey, "-V", "5"}, true},
		{"mqtts-cert-other-username", p.b.ID, "", []string{"--cert", aCert, "--key", aKey}, false},
		{"mqtts-no-credentials", "", "", nil, false},
		{"mqtts-expired", "", "", []string{"--cert", expCert, "--key", expKey}, false},
		{"mqtts-other-ca", "", "", []string{"--cert", oCert, "--key", oKey}, false},
	} {
		out, err := mqttPublish(p.mqttsAddr, tc.user, tc.pass, topic, tc.name, append([]string{"-q", "1", "--cafile", p.dev.caFile}, tc.args...)...)
		if (err == nil) != tc.ok {
			t.Errorf("%s: mosquitto_pub: %v, want success %v\n%s", tc.name, err, tc.ok, out)
		}
		if tc.ok {
			accepted = append(accepted, tc.name)
		}
	}
	// A thing not connected to the channel is refused at PUBLISH (0x87 in its MQTT 5 PUBACK):
	// whatever mosquitto_pub makes of it, the subscribers must not receive it.
	mqttPublish(p.mqttsAddr, "", "", topic, "mqtts-not-connected", "-q", "1", "-V", "5", "--cafile", p.dev.caFile, "--cert", bCert, "--key", bKey)
	return accepted
}

// checkProtocolVersions: TLS 1.2 and 1.3 are served on HTTPS and MQTTS, TLS 1.1 is refused.
func checkProtocolVersions(t *testing.T, cafile string, addrs ...string) {
	for _, addr := range addrs {
		for _, v := range []struct {
			flag, want string
			ok         bool
		}{{"-tls1_2", "TLSv1.2", true}, {"-tls1_3", "TLSv1.3", true}, {"-tls1_1", "", false}} {
			// SECLEVEL=0 lets OpenSSL's client offer TLS 1.1, so that the server is the one to refuse it.
			cmd := exec.Command("openssl", "s_client", "-connect", addr, v.flag, "-CAfile", cafile, "-verify_return_error",
				"-cipher", "DEFAULT@SECLEVEL=0", "-brief")
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			switch {
			case v.ok && (err != nil || !strings.Contains(string(out), "Protocol version: "+v.want)):
				t.Errorf("openssl s_client %s to %s: %v, want a verified %s session\n%s", v.flag, addr, err, v.want, out)
			case !v.ok && (err == nil || !strings.Contains(string(out), "protocol version")):
				t.Errorf("openssl s_client %s to %s: %v, want the server to refuse the protocol version\n%s", v.flag, addr, err, out)
			}
		}
	}
}

// wsSub is a paho subscriber over WebSocket.
type wsSub struct {
	c    paho.Client
	msgs chan string
}

// wsClient connects paho to url (ws:// or wss://) as th, by key, or by the certificate in
// certFile when it is set; cafile verifies a wss server.
func wsClient(t *testing.T, url, cafile, id string, th thingView, certFile, keyFile string) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second)
	cfg := &tls.Config{}
	if cafile != "" {
		pem, err := os.ReadFile(cafile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(pem)
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	} else {
		opts.SetUsername(th.ID).SetPassword(th.Key)
	}
	opts.SetTLSConfig(cfg)
	c := paho.NewClient(opts)
	if tk := c.Connect(); !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho %s to %s: %v", id, url, tk.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wssSubscriber(t *testing.T, url, cafile string, th thingView, certFile, keyFile, topic string) *wsSub {
	t.Helper()
	s := &wsSub{msgs: make(chan string, 100)}
	s.c = wsClient(t, url, cafile, "ws-sub", th, certFile, keyFile)
	tk := s.c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { s.msgs <- string(m.Payload()) })
	if !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho subscribe over %s: %v", url, tk.Error())
	}
	if q := tk.(*paho.SubscribeToken).Result()[topic]; q != 1 {
		t.Fatalf("paho subscribe over %s: granted %d, want 1", url, q)
	}
	return s
}

// until waits (at most 30 s) for payload.
func (s *wsSub) until(t *testing.T, payload string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-s.msgs:
			if m == payload {
				return
			}
		case <-deadline:
			t.Fatalf("the WebSocket subscriber did not receive %q within 30s", payload)
		}
	}
}

// wssPublish publishes over secure WebSocket with thing a's certificate.
func wssPublish(t *testing.T, p *tlsPlatform, topic, aCert, aKey string) string {
	c := wsClient(t, "wss://"+p.httpAddr+"/mqtt", p.dev.caFile, "wss-pub", thingView{}, aCert, aKey)
	tk := c.Publish(topic, 1, false, "wss-cert")
	if !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho publish over wss: %v", tk.Error())
	}
	c.Disconnect(100)
	return "wss-cert"
}

// scrape reads the metrics served on addr's /metrics.
func scrape(t *testing.T, addr string) (string, map[string]float64) {
	t.Helper()
	return scrapeURL(t, "http://"+addr+"/metrics")
}

// scrapeURL reads the metrics at url and returns each sample's value by its line's name and
// labels.
func scrapeURL(t *testing.T, url string) (string, map[string]float64) {
	t.Helper()
	out, rc := curl(t, url)
	if rc != 0 {
		t.Fatalf("scraping %s: exit %d\n%s", url, rc, out)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			samples[line[:i]] = v
		}
	}
	return out, samples
}

// checkMetrics scrapes the metrics after the mixed load of TestTLS: promtool accepts them and
// the counters match what the test sent.
func checkMetrics(t *testing.T, p *tlsPlatform) {
	if code, _ := curlCode(t, "--cacert", p.dev.caFile, p.base+"/metrics"); code != "404" {
		t.Errorf("/metrics on the HTTPS listener with -metrics-addr set: %s, want 404", code)
	}
	want := map[string]float64{
		`cairn_messages_accepted_total{adapter="http",protocol="https"}`:             3,
		`cairn_messages_stored_total{adapter="http",protocol="https"}`:               3,
		`cairn_publish_store_seconds_count{adapter="http"}`:                          3,
		`cairn_messages_refused_total{adapter="http",reason="unauthenticated"}`:      2,
		`cairn_messages_refused_total{adapter="http",reason="forbidden"}`:            1,
		`cairn_messages_accepted_total{adapter="mqtt",protocol="mqtts"}`:             5,
		`cairn_messages_accepted_total{adapter="mqtt",protocol="wss"}`:               1,
		`cairn_messages_stored_total{adapter="mqtt",protocol="mqtts"}`:               5,
		`cairn_messages_stored_total{adapter="mqtt",protocol="wss"}`:                 1,
		`cairn_messages_refused_total{adapter="mqtt",reason="forbidden"}`:            1,
		`cairn_mqtt_connections{listener="mqtts"}`:                                   1,
		`cairn_mqtt_connections{listener="wss"}`:                                     1,
		`cairn_mqtt_connections{listener="mqtt"}`:                                    0,
		`cairn_mqtt_subscriptions`:                                                   2,
		`cairn_http_requests_total{code="202",route="POST /channels/{id}/messages"}`: 3,
		`cairn_http_requests_total{code="403",route="POST /channels/{id}/messages"}`: 1,
	}
	var text string
	var got map[string]float64
	// The publishers' disconnections are handled as they come: wait for the gauges to settle.
	deadline := time.Now().Add(15 * time.Second)
	for {
		text, got = scrape(t, p.metrics)
		diff := false
		for k, v := range want {
			if got[k] != v {
				diff = true
			}
		}
		if !diff || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("metric %s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes", `cairn_access_cache_lookups_total{result="hit"}`} {
		if _, ok := got[k]; !ok {
			t.Errorf("metric %s missing from the scrape", k)
		}
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// checkWebSocket: on a plaintext all-in-one, MQTT over WebSocket (ws://) carries messages
// both ways with the same access rules, and /metrics is served on the HTTP listener.
func checkWebSocket(t *testing.T, httpAddr, mqttAddr string, r result) {
	base := "http://" + httpAddr
	var th, ch thingView
	must(t, 200, "GET", base+must(t, 201, "POST", base+"/things", r.bearer, `{"name":"browser"}`, nil).Get("Location"), r.bearer, "", &th)
	must(t, 200, "GET", base+must(t, 201, "POST", base+"/channels", r.bearer, `{"name":"ws"}`, nil).Get("Location"), r.bearer, "", &ch)
	topic := "channels/" + ch.ID + "/messages/ws"
	if c := wsClient(t, "ws://"+httpAddr+"/mqtt", "", "ws-refused", th, "", ""); c != nil {
		tk := c.Subscribe(topic, 1, func(paho.Client, paho.Message) {})
		if !tk.WaitTimeout(15*time.Second) || tk.Error() != nil || tk.(*paho.SubscribeToken).Result()[topic] != 0x80 {
			t.Errorf("a thing not connected to the channel subscribed over WebSocket: %v %v, want 0x80", tk.Error(), tk.(*paho.SubscribeToken).Result())
		}
	}
	must(t, 200, "PUT", base+"/channels/"+ch.ID+"/things/"+th.ID, r.bearer, "", nil)
	s := wssSubscriber(t, "ws://"+httpAddr+"/mqtt", "", th, "", "", topic)
	if out, err := mqttPublish(mqttAddr, th.ID, th.Key, topic, "to-ws", "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	s.until(t, "to-ws")
	if tk := s.c.Publish(topic, 1, false, "from-ws"); !tk.WaitTimeout(15*time.Second) || tk.Error() != nil {
		t.Fatalf("paho publish over ws: %v", tk.Error())
	}
	s.until(t, "from-ws")
	_, got := scrapeURL(t, base+"/metrics")
	if got[`cairn_messages_accepted_total{adapter="mqtt",protocol="ws"}`] != 1 {
		t.Errorf("metrics on the HTTP listener: %v messages accepted over ws, want 1",
			got[`cairn_messages_accepted_total{adapter="mqtt",protocol="ws"}`])
	}
}
