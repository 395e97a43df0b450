package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/tlsfiles/devca"
)

type fixture struct {
	dir      string
	ca       *devca.CA
	files    Files
	clientCA *x509.CertPool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := devca.New("test CA")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir); err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueFiles(dir, "server", devca.Request{CommonName: "server", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &fixture{dir: dir, ca: ca, files: Files{Cert: cert, Key: key, ClientCA: filepath.Join(dir, devca.CACert)}, clientCA: pool}
}

// handshake runs a TLS handshake against cfg with client (which trusts the server's CA)
// and returns the server's view of the connection, or the handshake error.
func (f *fixture) handshake(t *testing.T, cfg *tls.Config, client *tls.Config) (*tls.ConnectionState, error) {
	server, _, err := f.handshakeBoth(t, cfg, client)
	return server, err
}

// handshakeBoth is handshake returning the client's view too.
func (f *fixture) handshakeBoth(t *testing.T, cfg *tls.Config, client *tls.Config) (server, clientSt *tls.ConnectionState, err error) {
	t.Helper()
	sc, cc := tcpPair(t)
	defer sc.Close()
	defer cc.Close()
	if client.RootCAs == nil {
		client.RootCAs = f.clientCA
	}
	client.ServerName = "127.0.0.1"
	errc := make(chan error, 1)
	c := tls.Client(cc, client)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		err := c.Handshake()
		errc <- err
		if err == nil {
			io.Copy(io.Discard, c)
		}
		cc.Close()
	}()
	s := tls.Server(sc, cfg)
	s.SetDeadline(time.Now().Add(10 * time.Second))
	if err := s.Handshake(); err != nil {
		cc.Close()
		<-errc
		return nil, nil, err
	}
	if err := <-errc; err != nil {
		return nil, nil, err
	}
	st, cst := s.ConnectionState(), c.ConnectionState()
	return &st, &cst, nil
}

// tcpPair returns both ends of a loopback TCP connection (net.Pipe's unbuffered writes
// would block the side sending an alert).
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	return server, client
}

func (f *fixture) clientCert(t *testing.T, ca *devca.CA, r devca.Request) tls.Certificate {
	t.Helper()
	c, k, err := ca.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		f    Files
		want string
	}{
		{Files{Cert: "c"}, "-tls-key is not"},
		{Files{Key: "k"}, "-tls-cert is not"},
		{Files{ClientCA: "ca"}, "-tls-client-ca is set without"},
		{Files{}, ""},
	} {
		err := tc.f.Check()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v.Check() = %v, want %q", tc.f, err, tc.want)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	f := newFixture(t)
	other, _ := devca.New("other")
	_, otherKey, _ := other.IssueFiles(f.dir, "other", devca.Request{CommonName: "x", Hosts: []string{"x"}})
	for name, files := range map[string]Files{
		"missing cert":     {Cert: filepath.Join(f.dir, "nope.pem"), Key: f.files.Key},
		"mismatched key":   {Cert: f.files.Cert, Key: otherKey},
		"client CA absent": {Cert: f.files.Cert, Key: f.files.Key, ClientCA: filepath.Join(f.dir, "nope.pem")},
		"client CA no PEM": {Cert: f.files.Cert, Key: f.files.Key, ClientCA: f.files.Key + "x"},
	} {
		if name == "client CA no PEM" {
			os.WriteFile(files.ClientCA, []byte("not a certificate"), 0o644)
		}
		if _, err := Load(files, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestClientCertificates(t *testing.T) {
	f := newFixture(t)
	r, err := Load(f.files, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := devca.New("other")
	for _, tc := range []struct {
		name string
		cert []tls.Certificate
		want string // thing id, or "refused"
	}{
		{"no certificate", nil, ""},
		{"thing certificate", []tls.Certificate{f.clientCert(t, f.ca, devca.Request{CommonName: "thing-1"})}, "thing-1"},
		{"another CA", []tls.Certificate{f.clientCert(t, other, devca.Request{CommonName: "thing-1"})}, "refused"},
		{"expired", []tls.Certificate{f.clientCert(t, f.ca, devca.Request{CommonName: "thing-1",
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})}, "refused"},
	} {
		client := &tls.Config{}
		if tc.cert != nil { // sent whatever CAs the server names, as curl and mosquitto do
			client.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc.cert[0], nil }
		}
		st, err := f.handshake(t, r.Config(), client)
		switch {
		case tc.want == "refused" && err == nil:
			t.Errorf("%s: handshake succeeded, want it refused", tc.name)
		case tc.want != "refused" && err != nil:
			t.Errorf("%s: handshake: %v", tc.name, err)
		case err == nil && ThingID(st) != tc.want:
			t.Errorf("%s: ThingID = %q, want %q", tc.name, ThingID(st), tc.want)
		}
	}
	if _, err := f.handshake(t, r.Config(), &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("a TLS 1.1 handshake: %v, want it refused for its version", err)
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	r, err := Load(f.files, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	serial := func() string {
		t.Helper()
		_, st, err := f.handshakeBoth(t, r.Config(), &tls.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return st.PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	// A rotation: the files are replaced (a new mtime); the next handshake a second later
	// serves the new certificate.
	if _, _, err := f.ca.IssueFiles(f.dir, "server", devca.Request{CommonName: "server", Hosts: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	os.Chtimes(f.files.Cert, future, future)
	os.Chtimes(f.files.Key, future, future)
	if got := serial(); got != first {
		t.Errorf("within a second of the last check the files were read again")
	}
	now = now.Add(2 * time.Second)
	second := serial()
	if second == first {
		t.Fatal("the rotated certificate is not served")
	}
	// A broken rotation (half-written key) keeps the last good files.
	os.WriteFile(f.files.Key, []byte("-----BEGIN EC PRIVATE KEY-----\n"), 0o600)
	later := future.Add(time.Minute)
	os.Chtimes(f.files.Key, later, later)
	now = now.Add(2 * time.Second)
	if got := serial(); got != second {
		t.Errorf("after a broken rotation the server serves %s, want the last good %s", got, second)
	}
}
