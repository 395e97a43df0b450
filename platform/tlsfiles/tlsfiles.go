// Package tlsfiles serves TLS from PEM files that may change while the process runs: a
// certificate and key (rotated by cert-manager, certbot or by hand) and, for mutual TLS, the
// CA that signs the things' client certificates. Every new handshake uses the files as they
// are now: they are checked at most once a second, and a change is loaded whole (the key
// must match the certificate) or not at all, the last good files serving meanwhile.
//
// TLS 1.2 is the minimum. With a client CA, a client certificate is asked for but not
// required (users and things with keys connect without one); one that is given must be
// valid now and signed by that CA, or the handshake fails. ThingID reads the identity of a
// verified client certificate.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Files names the PEM files. Cert and Key are both set or both empty; ClientCA is optional.
type Files struct {
	Cert, Key, ClientCA string
}

// Enabled reports whether TLS is asked for (a certificate is named).
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" }

// Check refuses an incomplete configuration: a certificate without a key (or the reverse),
// or a client CA without a certificate.
func (f Files) Check() error {
	switch {
	case f.Cert != "" && f.Key == "":
		return errors.New("-tls-cert is set but -tls-key is not: TLS needs both the certificate and its private key (PEM files)")
	case f.Key != "" && f.Cert == "":
		return errors.New("-tls-key is set but -tls-cert is not: TLS needs both the certificate and its private key (PEM files)")
	case f.ClientCA != "" && f.Cert == "":
		return errors.New("-tls-client-ca is set without -tls-cert and -tls-key: client certificates need TLS; set the server's certificate and key too")
	}
	return nil
}

// recheck is how often the files are looked at, at most.
const recheck = time.Second

// Reloader holds the files' current contents and hands them to each new handshake.
type Reloader struct {
	files Files
	log   *slog.Logger
	mu    sync.Mutex
	cur   *tls.Config
	stamp string    // the files' sizes and modification times when cur was loaded
	seen  time.Time // when the files were last looked at
	now   func() time.Time
}

// Load reads the files and returns a Reloader serving them; an error says which file is
// wrong and why. log reports later reloads, and reloads that fail.
func Load(f Files, log *slog.Logger) (*Reloader, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	r := &Reloader{files: f, log: log, now: time.Now}
	cfg, err := f.load()
	if err != nil {
		return nil, err
	}
	r.cur, r.stamp, r.seen = cfg, f.stamp(), r.now()
	return r, nil
}

// Config returns the server configuration to listen with: each handshake gets the files'
// current contents.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.current(), nil },
	}
}

// ClientCA reports whether client certificates are asked for.
func (r *Reloader) ClientCA() bool { return r.files.ClientCA != "" }

func (r *Reloader) current() *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.seen) >= recheck {
		r.seen = now
		if st := r.files.stamp(); st != r.stamp {
			cfg, err := r.files.load()
			if err != nil {
				r.log.Error("reloading the TLS files: keeping the previous ones", "error", err)
			} else {
				r.log.Info("reloaded the TLS files", "cert", r.files.Cert, "client_ca", r.files.ClientCA)
				r.cur = cfg
			}
			r.stamp = st // a broken file is reported once, not at every handshake
		}
	}
	return r.cur
}

// stamp describes the files' current state; a change of any file changes it.
func (f Files) stamp() string {
	s := ""
	for _, name := range []string{f.Cert, f.Key, f.ClientCA} {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err == nil {
			s += fmt.Sprintf("%d.%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			s += "missing;"
		}
	}
	return s
}

// load reads the files into a complete server configuration.
func (f Files) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s (PEM; the key must be the certificate's): %w", f.Cert, f.Key, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("reading the client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the client CA %s holds no PEM certificate: want the CA that signs the things' certificates", f.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// ThingID returns the thing a connection's verified client certificate names (its Subject
// Common Name), or "" when the client gave no certificate.
func ThingID(st *tls.ConnectionState) string {
	if st == nil || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}
