package platform_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
	"github.com/cairn-iot/cairn/test/testenv"
)

// tlsPlatform is an all-in-one serving HTTPS, MQTTS and WSS with a client CA, plaintext
// MQTT off, its metrics on an address of their own.
type tlsPlatform struct {
	dev                                    *pki
	cert, key                              string // the server's, rotated by the test
	httpAddr, mqttAddr, mqttsAddr, metrics string
	base, bearer                           string
	channel                                string
	a, b                                   thingView // a is connected to channel, b is not
}

func startTLS(t *testing.T) *tlsPlatform {
	p := &tlsPlatform{dev: newPKI(t, "Cairn test CA")}
	p.cert, p.key = p.dev.issue("server", devca.Request{CommonName: "cairn", Hosts: []string{"127.0.0.1", "localhost"}})
	p.httpAddr, p.mqttAddr, p.mqttsAddr, p.metrics = testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := map[string]string{
		"CAIRN_HTTP_ADDR": p.httpAddr, "CAIRN_MQTT_ADDR": p.mqttAddr, "CAIRN_MQTTS_ADDR": p.mqttsAddr,
		"CAIRN_PLAINTEXT": "false", "CAIRN_METRICS_ADDR": p.metrics,
		"CAIRN_TLS_CERT": p.cert, "CAIRN_TLS_KEY": p.key, "CAIRN_TLS_CLIENT_CA": p.dev.caFile,
		"CAIRN_DATA_DIR": t.TempDir(), "CAIRN_BCRYPT_COST": "4",
	}
	refuseStart(t, env, "CAIRN_TLS_KEY", filepath.Join(p.dev.dir, "missing-key.pem"), "TLS was asked for and cannot be served")
	refuseStart(t, env, "CAIRN_TLS_CLIENT_CA", p.key, "holds no PEM certificate")
	start(t, "cairn", env, p.httpAddr)
	trust(t, p.httpAddr, p.dev.caFile)
	p.base = "https://" + p.httpAddr

	must(t, 201, "POST", p.base+"/users", "", `{"email":"tls@example.com","password":"a-long-secret"}`, nil)
	var tok struct{ Token string }
	must(t, 201, "POST", p.base+"/tokens", "", `{"email":"tls@example.com","password":"a-long-secret"}`, &tok)
	p.bearer = "Bearer " + tok.Token
	create := func(kind, name string) thingView {
		var v thingView
		must(t, 200, "GET", p.base+must(t, 201, "POST", p.base+"/"+kind, p.bearer, `{"name":"`+name+`"}`, nil).Get("Location"), p.bearer, "", &v)
		return v
	}
	p.a, p.b = create("things", "sensor-a"), create("things", "sensor-b")
	p.channel = create("channels", "tls").ID
	must(t, 200, "PUT", p.base+"/channels/"+p.channel+"/things/"+p.a.ID, p.bearer, "", nil)
	return p
}

// refuseStart runs cairn with env, variable k set to v, and wants it to exit at once with an
// error containing want.
func refuseStart(t *testing.T, env map[string]string, k, v, want string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "cairn"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for ek, ev := range env {
		if ek == k {
			ev = v
		}
		cmd.Env = append(cmd.Env, ek+"="+ev)
	}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("cairn with %s=%s still ran after 30s, want it to refuse to start", k, v)
	}
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("cairn with %s=%s: %v\n%s\nwant a failed start saying %q", k, v, err, out, want)
	}
}

// serial returns the serial number of the certificate the server at addr presents.
func (p *tlsPlatform) serial(t *testing.T, addr string) string {
	t.Helper()
	pem, err := os.ReadFile(p.dev.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return fmt.Sprintf("%X", c.ConnectionState().PeerCertificates[0].SerialNumber)
}

// TestTLS: HTTPS, MQTTS and MQTT over secure WebSocket on the all-in-one, with things
// authenticating by client certificate or by key, checked with curl, mosquitto_pub and
// mosquitto_sub, paho, openssl s_client and promtool; the certificate is rotated while
// clients are connected.
func TestTLS(t *testing.T) {
	t.Parallel()
	requireTLSTools(t)
	p := startTLS(t)
	topic := "channels/" + p.channel + "/messages"
	aCert, aKey := p.dev.issue("thing-a", devca.Request{CommonName: p.a.ID})
	bCert, bKey := p.dev.issue("thing-b", devca.Request{CommonName: p.b.ID})
	expCert, expKey := p.dev.issue("thing-a-expired", devca.Request{CommonName: p.a.ID,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	other := newPKI(t, "another CA")
	oCert, oKey := other.issue("thing-a-other", devca.Request{CommonName: p.a.ID})
	cafile := p.dev.caFile

	// MQTTS subscribers first: one by certificate (mosquitto), one over WSS by key (paho).
	sub, granted := subscribe(t, p.mqttsAddr, "", "", topic, "--cafile", cafile, "--cert", aCert, "--key", aKey)
	if granted != "1" {
		t.Fatalf("mosquitto_sub over MQTTS with thing a's certificate: granted %s, want 1", granted)
	}
	ws := wssSubscriber(t, "wss://"+p.httpAddr+"/mqtt", cafile, p.a, "", "", topic)

	sent := httpsPublishes(t, p, aCert, aKey, bCert, bKey, expCert, expKey, oCert, oKey)
	sent = append(sent, mqttsPublishes(t, p, topic, aCert, aKey, bCert, bKey, expCert, expKey, oCert, oKey)...)
	sent = append(sent, wssPublish(t, p, topic, aCert, aKey))
	checkProtocolVersions(t, cafile, p.httpAddr, p.mqttsAddr)
	if c, err := net.DialTimeout("tcp", p.mqttAddr, 5*time.Second); err == nil {
		c.Close()
		t.Errorf("plaintext MQTT on %s accepts connections with -plaintext=false", p.mqttAddr)
	}

	// Rotation: new handshakes get the new certificate within seconds; the connected
	// subscribers keep receiving.
	before := p.serial(t, p.httpAddr)
	rotated := p.dev.rotate(p.cert, p.key)
	if rotated == before {
		t.Fatal("the rotated certificate has the old serial")
	}
	for _, addr := range []string{p.httpAddr, p.mqttsAddr} {
		waitFor(t, 15*time.Second, "serving the rotated certificate on "+addr, func() bool { return p.serial(t, addr) == rotated })
	}
	if out, err := mqttPublish(p.mqttsAddr, "", "", topic, "after-rotation", "-q", "1", "--cafile", cafile, "--cert", aCert, "--key", aKey); err != nil {
		t.Fatalf("mosquitto_pub after the rotation: %v\n%s", err, out)
	}
	sent = append(sent, "after-rotation")

	got := sub.until(t, topic+" after-rotation")
	var payloads []string
	for _, line := range got {
		payloads = append(payloads, strings.TrimPrefix(line, topic+" "))
	}
	slices.Sort(payloads)
	slices.Sort(sent)
	if !slices.Equal(payloads, sent) {
		t.Errorf("the MQTTS subscriber received %q, want exactly the accepted %q", payloads, sent)
	}
	ws.until(t, "after-rotation")
	checkMetrics(t, p)
}
