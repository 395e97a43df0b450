package goreleaser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeToolchain is a GOROOT whose bin/go logs each call to calls, fails `mod verify` when
// the file verify-fails exists, and "builds" by writing the build count to -o's path.
func fakeToolchain(t *testing.T) (goroot, calls string) {
	t.Helper()
	goroot = t.TempDir()
	calls = filepath.Join(goroot, "calls")
	os.MkdirAll(filepath.Join(goroot, "bin"), 0o755)
	os.WriteFile(filepath.Join(goroot, "VERSION"), []byte("go1.26.8\ntime x\n"), 0o644)
	script := `#!/bin/sh
echo "$1 $2" >> ` + calls + `
case "$1 $2" in
"mod verify") [ -e ` + filepath.Join(goroot, "verify-fails") + ` ] && { echo "github.com/x v1.0.0: dir has been modified"; exit 1; }; exit 0;;
esac
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then shift; echo "goreleaser built $(wc -l < ` + calls + `)" > "$1"; exit 0; fi
  shift
done
exit 2
`
	if err := os.WriteFile(filepath.Join(goroot, "bin", "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return goroot, calls
}

func toolModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lock"), 0o755)
	os.WriteFile(filepath.Join(dir, "lock", "tools.mod"), []byte("module x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "lock", "tools.sum"), []byte("github.com/x v1.0.0 h1:abc=\n"), 0o644)
	return dir
}

func countCalls(t *testing.T, calls string) int {
	b, _ := os.ReadFile(calls)
	return strings.Count(string(b), "\n")
}

func TestToolIsBuiltOnceAndCheckedOnReuse(t *testing.T) {
	goroot, calls := fakeToolchain(t)
	mod, cache := toolModule(t), t.TempDir()
	logf := func(string, ...any) {}
	ctx := context.Background()
	bin, err := Tool(ctx, goroot, mod, cache, nil, logf)
	if err != nil {
		t.Fatal(err)
	}
	if n := countCalls(t, calls); n != 2 {
		t.Errorf("first Tool ran go %d times, want 2 (mod verify, build)", n)
	}
	again, err := Tool(ctx, goroot, mod, cache, nil, logf)
	if err != nil || again != bin {
		t.Fatalf("second Tool = %s, %v; want %s", again, err, bin)
	}
	if n := countCalls(t, calls); n != 2 {
		t.Errorf("a cache hit ran go (%d calls in all), want none", n)
	}
	// Another checkout with the same tools files shares the entry.
	if other, err := Tool(ctx, goroot, toolModule(t), cache, nil, logf); err != nil || other != bin {
		t.Errorf("Tool from another checkout = %s, %v; want the shared %s", other, err, bin)
	}
	if n := countCalls(t, calls); n != 2 {
		t.Errorf("another checkout ran go (%d calls in all), want none", n)
	}
	// A damaged binary is rebuilt, not used.
	os.WriteFile(bin, []byte("tampered"), 0o755)
	if _, err := Tool(ctx, goroot, mod, cache, nil, logf); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); !strings.HasPrefix(string(b), "goreleaser built") {
		t.Errorf("after damage the cached binary is %q, want a rebuilt one", b)
	}
	// Another tools.sum is another entry.
	os.WriteFile(filepath.Join(mod, "lock", "tools.sum"), []byte("github.com/x v1.0.1 h1:def=\n"), 0o644)
	other, err := Tool(ctx, goroot, mod, cache, nil, logf)
	if err != nil {
		t.Fatal(err)
	}
	if other == bin {
		t.Errorf("a changed tools.sum reused %s", bin)
	}
}

func TestToolRefusesUnverifiedModules(t *testing.T) {
	goroot, _ := fakeToolchain(t)
	os.WriteFile(filepath.Join(goroot, "verify-fails"), nil, 0o644)
	mod, cache := toolModule(t), t.TempDir()
	_, err := Tool(context.Background(), goroot, mod, cache, nil, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), "go clean -modcache") {
		t.Fatalf("Tool with a modified module = %v, want the mismatch and the fix", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a refused build left %v in the cache", entries)
	}
}
