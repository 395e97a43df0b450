package release_test

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/test/fixture"
)

// otherHostGo is the host toolchain of the second run: a Go 1.26 that go.mod accepts, other
// than the pinned one, fetched by the go command from the module proxy (GOTOOLCHAIN=<it>).
const otherHostGo = "go1.26.0"

// TestImagesIndependentOfHostGo runs the real entry, `go tool mage images`, twice in one
// clone of HEAD: once with the host's Go (GOTOOLCHAIN=local) and once with another host
// toolchain (GOTOOLCHAIN=go1.26.0). The host Go compiles mage and the magefile; mage then
// hands off to the pinned toolchain (`<pinned>/bin/go run ./release/cmd/cairn-release`), which
// compiles the assembler and builds the services. The two dist/ trees must be identical byte
// for byte.
//
// What would change if the host Go leaked: the service binaries (a binary built by the host
// Go records that version in its build info and differs in bytes), hence the layers, configs,
// manifests, indexes and dist/release.json; the record's "toolchain"; and, if the assembler
// were compiled by the host Go, anything whose bytes depend on the Go that runs it (encoding,
// compression). The test also checks each half on its own: every binary's build info names
// the pinned Go, release.json names it, and the mage binary of each run was really compiled
// by a different host Go (else the comparison would prove nothing).
//
// Each run gets its own cairn cache (XDG_CACHE_HOME), so the second run computes every
// binary and layer itself rather than reusing the first's; the go build cache is shared (its
// keys include the toolchain, so it cannot hide a leak) and mage's own cache is per run, so
// each host Go compiles the magefile.
func TestImagesIndependentOfHostGo(t *testing.T) {
	if testing.Short() {
		t.Skip("two full image builds of HEAD; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is not on PATH: %v", err)
	}
	root := repoRoot(t)
	l, err := lock.Load(filepath.Join(root, filepath.FromSlash(lock.File)))
	if err != nil {
		t.Fatal(err)
	}
	pinned := l.Go.Version
	gocache := goEnv(t, gobin, "GOCACHE")

	base := t.TempDir()
	clone := filepath.Join(base, "clone")
	fixture.CloneHEAD(t, git, clone)

	type run struct {
		name      string
		toolchain string // GOTOOLCHAIN of the host go command
		hostGo    string // the Go version that compiles mage
		tree      map[string]string
		record    []byte
	}
	runs := []*run{
		{name: "host", toolchain: "local"},
		{name: otherHostGo, toolchain: otherHostGo},
	}
	for i, r := range runs {
		dir := filepath.Join(base, r.name)
		env := append(hostEnv(),
			"GOTOOLCHAIN="+r.toolchain,
			"GOCACHE="+gocache,
			"XDG_CACHE_HOME="+filepath.Join(dir, "xdg"),
			"MAGEFILE_CACHE="+filepath.Join(dir, "mage"),
		)
		r.hostGo = goEnvWith(t, gobin, clone, env, "GOVERSION")
		cmd := exec.Command(gobin, "tool", "mage", "images")
		cmd.Dir, cmd.Env = clone, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d (GOTOOLCHAIN=%s, host %s): go tool mage images: %v\n%s", i, r.toolchain, r.hostGo, err, out)
		}
		// The magefile binary, compiled by the host Go (the part the host controls).
		mages, err := filepath.Glob(filepath.Join(dir, "mage", "*"))
		if err != nil || len(mages) != 1 {
			t.Fatalf("run %d: mage binaries in MAGEFILE_CACHE = %q, %v; want exactly one", i, mages, err)
		}
		if bi, err := buildinfo.ReadFile(mages[0]); err != nil {
			t.Fatalf("run %d: reading the build info of %s: %v", i, mages[0], err)
		} else if bi.GoVersion != r.hostGo {
			t.Errorf("run %d: mage was compiled by %s, want the host Go %s", i, bi.GoVersion, r.hostGo)
		}

		dist := filepath.Join(dir, "dist")
		if err := os.Rename(filepath.Join(clone, "dist"), dist); err != nil {
			t.Fatalf("run %d: moving dist aside: %v", i, err)
		}
		if r.tree, err = fixture.HashTree(dist); err != nil {
			t.Fatalf("run %d: hashing dist: %v", i, err)
		}
		if r.record, err = os.ReadFile(filepath.Join(dist, "release.json")); err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Toolchain string `json:"toolchain"`
		}
		if err := json.Unmarshal(r.record, &rec); err != nil {
			t.Fatalf("run %d: decoding release.json: %v", i, err)
		}
		if rec.Toolchain != pinned {
			t.Errorf("run %d (host %s): release.json toolchain = %q, want the pinned %q", i, r.hostGo, rec.Toolchain, pinned)
		}
		bins, err := filepath.Glob(filepath.Join(dist, "bin", "*", "*"))
		if err != nil || len(bins) == 0 {
			t.Fatalf("run %d: no binaries in %s/bin: %v", i, dist, err)
		}
		for _, b := range bins {
			bi, err := buildinfo.ReadFile(b)
			if err != nil {
				t.Errorf("run %d: reading the build info of %s: %v", i, b, err)
				continue
			}
			if bi.GoVersion != pinned {
				t.Errorf("run %d (host %s): %s was built by %s, want the pinned %s", i, r.hostGo, strings.TrimPrefix(b, dist+"/"), bi.GoVersion, pinned)
			}
		}
	}

	if runs[0].hostGo == runs[1].hostGo {
		t.Fatalf("both runs had host Go %s; the test needs two different ones (is %s the host's Go?)", runs[0].hostGo, otherHostGo)
	}
	if !bytes.Equal(runs[0].record, runs[1].record) {
		t.Errorf("dist/release.json differs between host %s and host %s:\n%s\n---\n%s", runs[0].hostGo, runs[1].hostGo, runs[0].record, runs[1].record)
	}
	if d := fixture.SameTree(runs[0].tree, runs[1].tree); d != "" {
		t.Errorf("dist/ of host %s (want) and host %s (got) differ:\n%s", runs[0].hostGo, runs[1].hostGo, d)
	}
}

// hostEnv is the test's environment without what each run sets itself, and without
// SOURCE_DATE_EPOCH so that both runs take the epoch from the clone's HEAD.
func hostEnv() []string {
	drop := map[string]bool{"GOTOOLCHAIN": true, "GOCACHE": true, "XDG_CACHE_HOME": true, "MAGEFILE_CACHE": true, "SOURCE_DATE_EPOCH": true}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// goEnv is `go env key` of the test's environment.
func goEnv(t *testing.T, gobin, key string) string {
	t.Helper()
	return goEnvWith(t, gobin, "", os.Environ(), key)
}

// goEnvWith is `go env key` in dir with env.
func goEnvWith(t *testing.T, gobin, dir string, env []string, key string) string {
	t.Helper()
	cmd := exec.Command(gobin, "env", key)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		t.Fatalf("go env %s is empty", key)
	}
	return v
}
