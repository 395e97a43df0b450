package push_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/release/sign"
)

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    string
	}{
		{"v1.2.3", "v1.2.3 latest"},
		{"v1.2.3-rc.1", "v1.2.3-rc.1"},
		{"v1.2.3-4-gabcdef0-dirty", "v1.2.3-4-gabcdef0-dirty"},
		{"0123abc", "0123abc"},
	} {
		if got := strings.Join(push.Tags(tc.version), " "); got != tc.want {
			t.Errorf("Tags(%q) = %q, want %q", tc.version, got, tc.want)
		}
	}
}

func writeDist(t *testing.T) string {
	t.Helper()
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	idx := attesttest.Index(t, "things")
	a, err := attest.Attach(key, attesttest.Build(), "things", "cairn/things", idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.WriteLayout(filepath.Join(dist, "cosign", "things"), "things", idx, a.Evidence); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	data, _ := json.Marshal(map[string]any{"version": "v1.2.3", "images": []map[string]string{{"name": "things", "index": d.String()}}})
	if err := os.WriteFile(filepath.Join(dist, "release.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dist
}

// flaky wraps a registry: fail decides, per request, to answer with a status instead.
type flaky struct {
	mu   sync.Mutex
	n    map[string]int
	fail func(r *http.Request, seen int) int
	h    http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	key := r.Method + " " + r.URL.Path
	if d := r.URL.Query().Get("digest"); d != "" {
		key = r.Method + " blob " + d // upload sessions change path, the blob does not
	}
	f.n[key]++
	code := f.fail(r, f.n[key])
	f.mu.Unlock()
	if code != 0 {
		http.Error(w, "injected", code)
		return
	}
	f.h.ServeHTTP(w, r)
}

func serve(t *testing.T, fail func(r *http.Request, seen int) int) (string, *flaky) {
	f := &flaky{n: map[string]int{}, fail: fail, h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), f
}

var fast = push.Options{Backoff: remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}}

func TestFailedPushLeavesNoTag(t *testing.T) {
	dist := writeDist(t)
	failing := true
	host, _ := serve(t, func(r *http.Request, _ int) int {
		// Refuse (not transiently) the first attestation manifest written by digest: the
		// images are in, the evidence only in part.
		if failing && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:") && r.Header.Get("Content-Type") == "application/vnd.oci.image.manifest.v1+json" {
			return http.StatusBadRequest
		}
		return 0
	})
	if _, err := push.Dist(context.Background(), dist, host+"/cairn", fast); err == nil {
		t.Fatal("push.Dist(refusing registry) = nil, want an error")
	}
	repo, _ := name.NewRepository(host + "/cairn/things")
	tags, _ := remote.List(repo)
	if len(tags) != 0 {
		t.Fatalf("tags after a failed push = %v, want none", tags)
	}
	failing = false
	if _, err := push.Dist(context.Background(), dist, host+"/cairn", fast); err != nil {
		t.Fatalf("push.Dist(again) = %v, want nil", err)
	}
	tags, err := remote.List(repo)
	if err != nil || len(tags) != 8 {
		t.Fatalf("tags after the second push = %v, %v, want 8", tags, err)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	dist := writeDist(t)
	host, f := serve(t, func(r *http.Request, seen int) int {
		// Every manifest and blob upload fails once with 503.
		if (r.Method == http.MethodPut || r.Method == http.MethodPost) && seen == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	if _, err := push.Dist(context.Background(), dist, host+"/cairn", fast); err != nil {
		t.Fatalf("push.Dist(registry with transient 503s) = %v, want nil", err)
	}
	retried := 0
	for _, n := range f.n {
		if n > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no request was retried; the injection did not happen")
	}
}

func TestDistRefusesUnsignedRelease(t *testing.T) {
	dist := t.TempDir()
	os.WriteFile(filepath.Join(dist, "release.json"), []byte(`{"version":"v1","images":[{"name":"things","index":"sha256:00"}]}`), 0o644)
	_, err := push.Dist(context.Background(), dist, "127.0.0.1:1/cairn", fast)
	if err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("push.Dist(unsigned dist) = %v, want an error saying the release is not signed", err)
	}
}
