package platform_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
	"github.com/cairn-iot/cairn/test/testenv"
)

// clients are the HTTPS clients of the servers the TLS tests started, by host:port, each
// trusting that server's CA only.
var clients sync.Map

// trust makes call and must verify the HTTPS server at addr with the CA in caFile.
func trust(t *testing.T, addr, caFile string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	clients.Store(addr, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
}

func clientFor(addr string) *http.Client {
	if c, ok := clients.Load(addr); ok {
		return c.(*http.Client)
	}
	return http.DefaultClient
}

// pki is the development CA of a TLS test and the files it issued.
type pki struct {
	t      *testing.T
	dir    string
	ca     *devca.CA
	caFile string
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, err := devca.New(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir); err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, dir: dir, ca: ca, caFile: filepath.Join(dir, devca.CACert)}
}

// issue writes a certificate and key named name for r and returns their paths.
func (p *pki) issue(name string, r devca.Request) (cert, key string) {
	p.t.Helper()
	cert, key, err := p.ca.IssueFiles(p.dir, name, r)
	if err != nil {
		p.t.Fatal(err)
	}
	return cert, key
}

// rotate replaces the server certificate and key in place, as cert-manager does (new files
// renamed over the old ones), and returns the new certificate's serial number.
func (p *pki) rotate(cert, key string) string {
	p.t.Helper()
	c, k, err := p.ca.Issue(devca.Request{CommonName: "cairn", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		p.t.Fatal(err)
	}
	for path, b := range map[string][]byte{cert: c, key: k} {
		if err := os.WriteFile(path+".new", b, 0o600); err != nil {
			p.t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			p.t.Fatal(err)
		}
	}
	return serialOf(p.t, c)
}

func serialOf(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no certificate in the PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%X", c.SerialNumber)
}

// curl runs curl with args and returns its output and exit code (0 on success).
func curl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...).CombinedOutput()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running curl: %v", err)
	}
	return string(out), 0
}

// curlCode runs curl with args, printing only the HTTP status, and returns it ("000" when
// there was no HTTP answer: a refused handshake) and curl's exit code.
func curlCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, code := curl(t, append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
	return strings.TrimSpace(lastLine(out)), code
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func requireTLSTools(t *testing.T) {
	requireMosquitto(t)
	testenv.LookPath(t, "curl", "curl")
	testenv.LookPath(t, "openssl", "openssl")
	testenv.LookPath(t, "promtool", "prometheus")
}

// waitFor polls ok every 100 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
