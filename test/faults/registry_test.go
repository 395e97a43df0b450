package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/test/testenv"
)

// A fault is what the proxy does to a request instead of forwarding it.
type faultKind string

const (
	reset     faultKind = "reset"    // the connection is closed with RST, no answer
	status500 faultKind = "500"      // 500 Internal Server Error
	status503 faultKind = "503"      // 503 Service Unavailable
	stall     faultKind = "stall"    // held for stallFor, then forwarded
	truncate  faultKind = "truncate" // the request body is cut in half on its way to the registry
)

// stallFor bounds a stall: long enough to be one, short enough for the test.
const stallFor = 1500 * time.Millisecond

// rule injects kind into requests with method whose path contains path: the first times
// matches (times 0: every match).
type rule struct {
	method, path string
	kind         faultKind
	times        int
	after        int // let this many matches through first
	seen, hits   int
}

// faultProxy is a reverse proxy on 127.0.0.1 in front of a registry that injects faults.
type faultProxy struct {
	mu       sync.Mutex
	rules    []*rule
	injected []string // "METHOD path: fault"
	rp       *httputil.ReverseProxy
	host     string
}

func newFaultProxy(t *testing.T, registry string, rules ...*rule) *faultProxy {
	target, _ := url.Parse("http://" + registry)
	p := &faultProxy{rules: rules, rp: httputil.NewSingleHostReverseProxy(target)}
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // the client sees the fault; no noise
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

func (p *faultProxy) match(r *http.Request) faultKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ru := range p.rules {
		if ru.method == r.Method && strings.Contains(r.URL.Path, ru.path) && (ru.times == 0 || ru.hits < ru.times) {
			if ru.seen++; ru.seen <= ru.after {
				continue
			}
			ru.hits++
			p.injected = append(p.injected, fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, ru.kind))
			return ru.kind
		}
	}
	return ""
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := p.match(r)
	switch k {
	case reset:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		return
	case status500, status503:
		io.Copy(io.Discard, r.Body)
		code := http.StatusInternalServerError
		if k == status503 {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected %d"}]}`, code)
		return
	case stall:
		select {
		case <-time.After(stallFor):
		case <-r.Context().Done():
			return
		}
	case truncate:
		b, _ := io.ReadAll(r.Body)
		b = b[:len(b)/2]
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", fmt.Sprint(len(b)))
	}
	p.rp.ServeHTTP(w, r)
}

func (p *faultProxy) faults() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.injected...)
}

// pushOptions retry quickly: the schedule is not what is tested.
var pushOptions = push.Options{
	NameOptions: []name.Option{name.Insecure},
	Backoff:     remote.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Steps: 5},
}

// tags returns the tags of repo (through the registry itself, not the proxy) and the digest
// each names, and fails the test if any tag names an image that is not complete: every
// manifest, config and layer present and matching its digest.
func tags(t *testing.T, repoName string) map[string]string {
	t.Helper()
	repo, err := name.NewRepository(repoName, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	list, err := remote.List(repo)
	if err != nil {
		if strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return map[string]string{}
		}
		t.Fatalf("listing the tags of %s: %v", repo, err)
	}
	out := map[string]string{}
	for _, tag := range list {
		desc, err := remote.Get(repo.Tag(tag))
		if err != nil {
			t.Fatalf("getting %s:%s: %v", repo, tag, err)
		}
		out[tag] = desc.Digest.String()
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err == nil {
				err = validate.Index(idx)
			}
			if err != nil {
				t.Errorf("tag %s names a partial index %s: %v", tag, desc.Digest, err)
			}
			continue
		}
		// Signature and attestation images: their config and layers must be there (the
		// registry stores a blob only after checking its digest).
		var m struct {
			Config v1.Descriptor   `json:"config"`
			Layers []v1.Descriptor `json:"layers"`
		}
		if err := json.Unmarshal(desc.Manifest, &m); err != nil {
			t.Fatalf("decoding %s:%s: %v", repo, tag, err)
		}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			resp, err := http.Head("http://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/blobs/" + b.Digest.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("tag %s names a partial image %s: blob %s answers %d", tag, desc.Digest, b.Digest, resp.StatusCode)
			}
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// platformDigests reads the index and platform manifest digests of hello from release.json.
func platformDigests(t *testing.T, dist string) (index string, platforms []string) {
	t.Helper()
	var rec struct {
		Images []struct {
			Index     string `json:"index"`
			Platforms []struct {
				Manifest string `json:"manifest"`
			} `json:"platforms"`
		} `json:"images"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.Images) != 1 || len(rec.Images[0].Platforms) != 2 {
		t.Fatalf("release.json: %v; want one image with two platforms:\n%s", err, b)
	}
	for _, p := range rec.Images[0].Platforms {
		platforms = append(platforms, p.Manifest)
	}
	return rec.Images[0].Index, platforms
}

func TestPushThroughFaults(t *testing.T) {
	refMod, _ := reference(t)
	dist := filepath.Join(refMod, "dist")
	registry := testenv.Registry(t)
	index, platforms := platformDigests(t, dist)
	ctx := context.Background()

	// The tags an undisturbed push leaves: the version, a .sig and .att per manifest, and per
	// manifest the referrers tag (sha256-<hex>) that lists its bundles, distribution 2.8
	// having no referrers API.
	if _, err := push.Dist(ctx, dist, registry+"/clean", pushOptions); err != nil {
		t.Fatalf("push without faults: %v", err)
	}
	want := tags(t, registry+"/clean/hello")
	referrerTags := 0
	for tag := range want {
		if strings.HasPrefix(tag, "sha256-") && !strings.Contains(tag, ".") {
			referrerTags++
		}
	}
	if want[fixtureVersion] != index || want["latest"] != index || len(want) != 11 || referrerTags != 3 {
		t.Fatalf("tags of an undisturbed push = %v, want %s = latest = %s, six cosign tags and three referrers tags", want, fixtureVersion, index)
	}

	for i, tc := range []struct {
		name  string
		rules []*rule
		fails string // "" = the push must survive; else a substring of its clear error
	}{
		{"transient", []*rule{
			{method: "GET", path: "/v2/", kind: status503, times: 1},
			{method: "HEAD", path: "/blobs/sha256:", kind: reset, times: 2},
			{method: "POST", path: "/blobs/uploads/", kind: status500, times: 2},
			{method: "PATCH", path: "/blobs/uploads/", kind: reset, times: 1},
			{method: "PATCH", path: "/blobs/uploads/", kind: stall, times: 1},
			{method: "PUT", path: "/blobs/uploads/", kind: status503, times: 1},
			{method: "PUT", path: "/manifests/" + platforms[1], kind: status500, times: 2},
			{method: "PUT", path: "/manifests/" + index, kind: reset, times: 1},
			{method: "PUT", path: ".sig", kind: status503, times: 1},
			{method: "PUT", path: "/manifests/" + fixtureVersion, kind: stall, times: 1},
			{method: "PUT", path: "/manifests/" + fixtureVersion, kind: reset, times: 1},
		}, ""},
		{"platform manifest always 503", []*rule{
			{method: "PUT", path: "/manifests/" + platforms[1], kind: status503},
		}, "503"},
		{"truncated first blob upload", []*rule{
			{method: "PATCH", path: "/blobs/uploads/", kind: truncate, times: 1},
		}, "DIGEST_INVALID"},
		{"truncated fourth blob upload", []*rule{
			{method: "PATCH", path: "/blobs/uploads/", kind: truncate, times: 1, after: 3},
		}, "DIGEST_INVALID"},
		{"connection reset on every index upload", []*rule{
			{method: "PUT", path: "/manifests/" + index, kind: reset},
		}, "reset"},
		{"version tag refused", []*rule{
			{method: "PUT", path: "/manifests/" + fixtureVersion, kind: status500},
		}, "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("faults%d", i)
			p := newFaultProxy(t, registry, tc.rules...)
			var log bytes.Buffer
			o := pushOptions
			o.Log = &log
			_, err := push.Dist(ctx, dist, p.host+"/"+prefix, o)
			injected := p.faults()
			t.Logf("%d faults injected: %s; push: %v", len(injected), strings.Join(injected, "; "), err)
			if len(injected) == 0 {
				t.Fatalf("no fault was injected: the rules match nothing the push does")
			}
			got := tags(t, registry+"/"+prefix+"/hello")
			survived := 0
			switch {
			case tc.fails == "" && err != nil:
				t.Errorf("push through transient faults = %v, want it to retry and succeed", err)
			case tc.fails == "":
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("tags after a push through faults (-want +got):\n%s", diff)
				}
				survived = len(injected)
			case err == nil:
				t.Errorf("push through a persistent fault succeeded, want an error containing %q", tc.fails)
			default:
				if !strings.Contains(err.Error(), tc.fails) {
					t.Errorf("push error = %v, want it to name the fault (%q)", err, tc.fails)
				}
				if got[fixtureVersion] != "" || got["latest"] != "" {
					t.Errorf("a failed push left the tag %s = %s", fixtureVersion, got[fixtureVersion])
				}
				// tags() has failed the test if any tag names a partial image.
				if _, err := push.Dist(ctx, dist, registry+"/"+prefix, pushOptions); err != nil {
					t.Fatalf("push again without faults: %v", err)
				}
				if diff := cmp.Diff(want, tags(t, registry+"/"+prefix+"/hello")); diff != "" {
					t.Errorf("tags after the rerun (-want +got):\n%s", diff)
				}
				if !t.Failed() {
					survived = len(injected)
				}
			}
			fault(len(injected), survived)
		})
	}
}
