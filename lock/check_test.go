package lock

import (
	"archive/zip"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a module with two dependencies served by a file:// proxy, its own module cache
// and a lock that matches it. Nothing in it touches the real module cache.
type fixture struct {
	dir   string   // the module root
	cache string   // its GOMODCACHE
	env   []string // the go command environment Check gets
	proxy string   // its GOPROXY, a file:// URL
}

// fixtureModules are the modules the fixture proxy serves: files by name.
var fixtureModules = map[string]map[string]string{
	"example.com/gzip@v1.0.0": {
		"go.mod":       "module example.com/gzip\n\ngo 1.22\n",
		"gzip/gzip.go": "package gzip\n\n// Level is the level.\nconst Level = 6\n",
	},
	"example.com/tool@v1.2.0": {
		"go.mod":  "module example.com/tool\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	},
}

// writeProxy writes a GOPROXY directory serving fixtureModules.
func writeProxy(t *testing.T, dir string) {
	t.Helper()
	for mv, files := range fixtureModules {
		mod, ver, _ := strings.Cut(mv, "@")
		v := filepath.Join(dir, filepath.FromSlash(mod), "@v")
		if err := os.MkdirAll(v, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(v, "list"), ver+"\n")
		write(t, filepath.Join(v, ver+".info"), `{"Version":"`+ver+`","Time":"2026-01-01T00:00:00Z"}`)
		write(t, filepath.Join(v, ver+".mod"), files["go.mod"])
		f, err := os.Create(filepath.Join(v, ver+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for name, content := range files {
			w, err := zw.Create(mv + "/" + name)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, content)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeWritable lets t.TempDir's cleanup remove a module cache, which the go command leaves read-only.
func makeWritable(t *testing.T, dir string) {
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	fx := &fixture{dir: filepath.Join(root, "mod"), cache: filepath.Join(root, "gomodcache")}
	makeWritable(t, fx.cache)
	proxy := filepath.Join(root, "proxy")
	writeProxy(t, proxy)
	fx.proxy = "file://" + filepath.ToSlash(proxy)
	fx.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + root,
		"GOCACHE=" + filepath.Join(root, "gocache"),
		"GOMODCACHE=" + fx.cache,
		"GOPROXY=" + fx.proxy,
		"GOSUMDB=off",
	}
	write(t, filepath.Join(fx.dir, "go.mod"), "module example.com/fixture\n\ngo 1.22\n")
	write(t, filepath.Join(fx.dir, ToolsModFile), "module example.com/fixture\n\ngo 1.22\n")
	fx.goCmd(t, "get", "example.com/gzip@v1.0.0")
	fx.goCmd(t, "get", "-modfile="+ToolsModFile, "-tool", "example.com/tool@v1.2.0")
	fx.goCmd(t, "mod", "download", "-modfile="+ToolsModFile, "all")

	l, err := Parse(committed(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Compressor.Module = "example.com/gzip"
	l.Compressor.Implementation = "example.com/gzip/gzip"
	o, err := newOptions([]Option{WithEnv(fx.env...)})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.pinModules(context.Background(), fx.dir, l); err != nil {
		t.Fatalf("pinning the fixture: %v", err)
	}
	if err := Write(filepath.Join(fx.dir, File), l); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *fixture) goCmd(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = fx.dir
	cmd.Env = append(fx.env, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (fx *fixture) check() error {
	return Check(context.Background(), fx.dir, WithEnv(fx.env...), func(o *options) { o.skipToolchain = true })
}

// replaceIn replaces old by new in the file, which must contain old.
func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	os.Chmod(path, 0o644)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	tests := []struct {
		name    string
		tamper  func(t *testing.T, fx *fixture)
		wantErr []string // substrings of the error; none: Check passes
	}{
		{name: "untouched"},
		{
			name: "edited go.sum line",
			tamper: func(t *testing.T, fx *fixture) {
				b := mustRead(t, filepath.Join(fx.dir, "go.sum"))
				line := strings.SplitN(string(b), "\n", 2)[0] // example.com/gzip v1.0.0 h1:...
				f := strings.Fields(line)
				replaceIn(t, filepath.Join(fx.dir, "go.sum"), f[2], "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			},
			wantErr: []string{
				"lock: go.sum hash is sha256:",
				"lock/lock.json says sha256:",
				"run `go tool mage lock` if this change is intended",
				"the module cache holds example.com/gzip@v1.0.0 with hash h1:",
				"go.sum:1 says h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			},
		},
		{
			name: "module content changed in the cache",
			tamper: func(t *testing.T, fx *fixture) {
				dir := filepath.Join(fx.cache, "example.com", "gzip@v1.0.0")
				os.Chmod(dir, 0o755)
				os.Chmod(filepath.Join(dir, "gzip"), 0o755)
				replaceIn(t, filepath.Join(dir, "gzip", "gzip.go"), "Level = 6", "Level = 1")
			},
			wantErr: []string{"lock: the module cache does not match go.sum", "example.com/gzip v1.0.0: dir has been modified", "go clean -modcache"},
		},
		{
			name: "tool module content changed in the cache",
			tamper: func(t *testing.T, fx *fixture) {
				dir := filepath.Join(fx.cache, "example.com", "tool@v1.2.0")
				os.Chmod(dir, 0o755)
				replaceIn(t, filepath.Join(dir, "main.go"), "func main() {}", "func main() { panic(1) }")
			},
			wantErr: []string{"lock: the module cache does not match lock/tools.sum", "example.com/tool v1.2.0: dir has been modified"},
		},
		{
			name: "edited tools.mod",
			tamper: func(t *testing.T, fx *fixture) {
				replaceIn(t, filepath.Join(fx.dir, ToolsModFile), "go 1.22", "go 1.23")
			},
			wantErr: []string{"lock: lock/tools.mod hash is sha256:", "run `go tool mage lock`"},
		},
		{
			name: "edited go.mod",
			tamper: func(t *testing.T, fx *fixture) {
				replaceIn(t, filepath.Join(fx.dir, "go.mod"), "go 1.22", "go 1.22.1")
			},
			wantErr: []string{"lock: go.mod hash is sha256:"},
		},
		{
			name: "compressor version differs from go.mod",
			tamper: func(t *testing.T, fx *fixture) {
				replaceIn(t, filepath.Join(fx.dir, File), `"version": "v1.0.0"`, `"version": "v1.0.1"`)
			},
			wantErr: []string{"lock: go.mod requires example.com/gzip v1.0.0, lock/lock.json pins the compressor at v1.0.1"},
		},
		{
			name: "lock with an unknown field",
			tamper: func(t *testing.T, fx *fixture) {
				replaceIn(t, filepath.Join(fx.dir, File), `"schema": 1,`, `"schema": 1, "signed": true,`)
			},
			wantErr: []string{`unknown field "signed"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if tt.tamper != nil {
				tt.tamper(t, fx)
			}
			err := fx.check()
			t.Logf("Check() = %v", err)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check() = nil, want an error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check() = %v\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

// TestHash1 checks Hash1 against the go command: the h1 that go.sum records for a fixture module.
func TestHash1(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	fx := newFixture(t)
	sum := string(mustRead(t, filepath.Join(fx.dir, "go.sum")))
	files := fixtureModules["example.com/gzip@v1.0.0"]
	var names []string
	for name := range files {
		names = append(names, name)
	}
	got, err := Hash1(names, "example.com/gzip@v1.0.0", func(name string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(files[name])), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "example.com/gzip v1.0.0 " + got + "\n"; !strings.Contains(sum, want) {
		t.Errorf("Hash1(example.com/gzip@v1.0.0) = %s, want the h1 of go.sum:\n%s", got, sum)
	}
}

// TestCheckToolchainNotServed: lock:check refuses a lock naming a toolchain the proxy cannot serve.
func TestCheckToolchainNotServed(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the module proxy")
	}
	fx := newFixture(t)
	path := filepath.Join(fx.dir, File)
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Go.Version = "go1.26.99"
	for _, p := range Platforms {
		a := l.Go.Archives[p]
		a.ModuleVersion = ToolchainModuleVersion(l.Go.Version, p)
		a.URL = ProxyURL(DefaultProxy, a.ModuleVersion)
		l.Go.Archives[p] = a
	}
	if err := Write(path, l); err != nil {
		t.Fatal(err)
	}
	// The fixture's proxy serves only its modules; the toolchain comes from the real proxy.
	env := append(append([]string(nil), fx.env...), "GOPROXY="+fx.proxy+","+DefaultProxy)
	err = Check(context.Background(), fx.dir, WithEnv(env...), WithCacheDir(t.TempDir()))
	t.Logf("Check() = %v", err)
	want := "the module proxy cannot serve Go toolchain go1.26.99 for " + hostPlatform()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check() = %v, want an error containing %q", err, want)
	}
}

// TestCheckForARelease checks the options a release passes: WithoutToolModules leaves only
// the tool modules' content to the tool's build (a changed main module is still caught), and
// WithNixHashCache answers from its entry for unchanged go.mod and go.sum and computes again
// when they change.
func TestCheckForARelease(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	release := func(fx *fixture, cache string) error {
		return Check(context.Background(), fx.dir, WithEnv(fx.env...), WithoutToolchain(), WithoutToolModules(), WithNixHashCache(cache))
	}
	fx := newFixture(t)
	cache := t.TempDir()
	if err := release(fx, cache); err != nil {
		t.Fatalf("Check for a release, untouched = %v, want nil", err)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("nix hash cache holds %d entries, want 1", len(entries))
	}
	// The tool module's content is the tool build's to check.
	tool := filepath.Join(fx.cache, "example.com", "tool@v1.2.0")
	os.Chmod(tool, 0o755)
	replaceIn(t, filepath.Join(tool, "main.go"), "func main() {}", "func main() { panic(1) }")
	if err := release(fx, cache); err != nil {
		t.Errorf("Check for a release with a changed tool module = %v, want nil (goreleaser.Tool verifies it)", err)
	}
	if err := fx.check(); err == nil || !strings.Contains(err.Error(), "lock/tools.sum") {
		t.Errorf("full Check with a changed tool module = %v, want the tools.sum mismatch", err)
	}
	// The main module's content is still checked.
	gz := filepath.Join(fx.cache, "example.com", "gzip@v1.0.0")
	os.Chmod(gz, 0o755)
	os.Chmod(filepath.Join(gz, "gzip"), 0o755)
	replaceIn(t, filepath.Join(gz, "gzip", "gzip.go"), "Level = 6", "Level = 1")
	if err := release(fx, cache); err == nil || !strings.Contains(err.Error(), "does not match go.sum") {
		t.Errorf("Check for a release with a changed main module = %v, want the go.sum mismatch", err)
	}
	// A poisoned cache entry is what the check reports against the lock: the entry is read,
	// not trusted blindly, only when go.mod and go.sum are the ones it was computed for.
	fx2 := newFixture(t)
	cache2 := t.TempDir()
	if err := release(fx2, cache2); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(cache2)
	write(t, filepath.Join(cache2, entries[0].Name()), "sha256-"+strings.Repeat("A", 43)+"=\n")
	if err := release(fx2, cache2); err == nil || !strings.Contains(err.Error(), "modules.nix_hash") {
		t.Errorf("Check with a cache entry that disagrees with the lock = %v, want the nix hash mismatch", err)
	}
	// Another go.sum is another entry, computed afresh.
	os.Remove(filepath.Join(cache2, entries[0].Name()))
	f, err := os.OpenFile(filepath.Join(fx2.dir, "go.sum"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n")
	f.Close()
	release(fx2, cache2)
	if entries, _ := os.ReadDir(cache2); len(entries) != 1 {
		t.Errorf("after a go.sum change the cache holds %d entries, want the new one", len(entries))
	}
}
