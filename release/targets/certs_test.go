package targets

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCerts: the development CA is made once and kept; the server and thing certificates it
// issues verify against it, the thing's for client authentication with its id as CN.
func TestCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := CertsThing(dir, "", io.Discard); err == nil {
		t.Error("certs:thing without an id succeeded")
	}
	if err := CertsDev(dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err := CertsThing(dir, "0192f0c4-2b3a-7c4d-8e5f-a6b7c8d9e0f1", io.Discard); err != nil {
		t.Fatal(err)
	}
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if string(ca1) != string(ca2) || len(ca1) == 0 {
		t.Fatal("the CA changed between two targets, want it kept")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca1)
	for name, usage := range map[string]x509.ExtKeyUsage{
		"server": x509.ExtKeyUsageServerAuth, "thing-0192f0c4-2b3a-7c4d-8e5f-a6b7c8d9e0f1": x509.ExtKeyUsageClientAuth,
	} {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(pair.Certificate[0])
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem: %v, mode %v; want 0600", err, info.Mode())
	}
}
