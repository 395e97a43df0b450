// Package testenv gives tests the real tools and servers they run against: it finds a
// command or fails (in CI) or skips (elsewhere) with the package to install, and starts
// servers on 127.0.0.1 that stop when the test ends.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// CI reports whether the tests run in CI (CI=true), where a missing tool is a failure:
// a test that CI never runs is a defect.
func CI() bool { return os.Getenv("CI") != "" }

// LookPath returns the path of the command name. If it is not installed, the test fails in
// CI and is skipped elsewhere, naming the Debian package that provides it (.ci/run installs it).
func LookPath(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Unavailable(t, "%s not found on PATH: install the Debian package %s (.ci/run does)", name, debianPackage)
	return ""
}

// Unavailable reports that something the test needs is missing from this machine: the test
// fails in CI, where .ci/run provides everything, and is skipped elsewhere with the reason.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Registry starts a distribution registry (Debian's docker-registry, v2.8) on 127.0.0.1
// with storage in a temporary directory, and returns its host:port. It stops with the test.
func Registry(t testing.TB) string {
	t.Helper()
	bin := LookPath(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	addr := FreeAddr(t)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting docker-registry: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	WaitHTTP(t, "http://"+addr+"/v2/", 20*time.Second)
	return addr
}

// WaitHTTP polls url until it answers with any HTTP status, or fails the test after timeout.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
