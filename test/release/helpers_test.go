package release_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/test/fixture"
)

// repoRoot is the module root.
func repoRoot(t testing.TB) string { return fixture.RepoRoot(t) }

// pinnedGOROOT returns the lock's toolchain, the one every release uses.
func pinnedGOROOT(t testing.TB) string { return fixture.PinnedGOROOT(t) }

// cli is cairn-release built once with the pinned toolchain, as `go tool mage` runs it.
func cli(t testing.TB) string { return fixture.CLI(t) }

// fixtureServices is the fixture module's one service.
var fixtureServices = []record.Service{
	{Name: "hello", Package: "./cmd/hello", Ports: []string{"8080/tcp"}, DataDirs: []string{"/var/lib/hello"}},
}

// Fixed identity of fixture releases.
const (
	fixtureVersion = "v0.0.0-fixture"
	fixtureCommit  = "0123456789abcdef0123456789abcdef01234567"
	fixtureEpoch   = 1700000000
)

// copyFixture copies testdata/fixture into a new directory below parent and returns it.
func copyFixture(t testing.TB, parent string) string { return fixture.CopyModule(t, parent) }

// fixtureOptions are the in-process release options of the fixture module in dir.
func fixtureOptions(t testing.TB, dir string) release.Options {
	return release.Options{
		Mode:       release.ModeImages,
		ModuleDir:  dir,
		Services:   fixtureServices,
		GOROOT:     pinnedGOROOT(t),
		Toolchain:  runtimeVersion(t),
		Version:    fixtureVersion,
		Commit:     fixtureCommit,
		Epoch:      time.Unix(fixtureEpoch, 0),
		Compressor: images.DefaultCompressor,
		Pass:       passEnv(t),
	}
}

func runtimeVersion(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join(pinnedGOROOT(t), "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := strings.Cut(string(b), "\n")
	return v
}

// passEnv is the build passthrough environment of the test process.
func passEnv(t testing.TB) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "GOCACHE", "GOMODCACHE", "GOPROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

var (
	fixtureOnce sync.Once
	fixtureDist string
	fixtureMod  string
	fixtureErr  error
	fixtureBase string
)

// fixtureRelease releases the fixture module once per test binary and returns the module
// dir and its dist/. Tests must not modify them.
func fixtureRelease(t testing.TB) (moduleDir, dist string) {
	t.Helper()
	pinnedGOROOT(t)
	fixtureOnce.Do(func() {
		fixtureBase, fixtureErr = os.MkdirTemp("", "cairn-fixture-release-")
		if fixtureErr != nil {
			return
		}
		fixtureMod = copyFixture(t, fixtureBase)
		_, fixtureErr = release.Run(context.Background(), fixtureOptions(t, fixtureMod))
		fixtureDist = filepath.Join(fixtureMod, "dist")
	})
	if fixtureErr != nil {
		t.Fatalf("releasing the fixture: %v", fixtureErr)
	}
	return fixtureMod, fixtureDist
}

// copyDir copies a directory tree (regular files and dirs only).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	code := m.Run()
	if fixtureBase != "" {
		os.RemoveAll(fixtureBase)
	}
	fixture.Cleanup()
	os.Exit(code)
}
