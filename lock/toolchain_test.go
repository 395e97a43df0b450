package lock

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// These tests download the pinned toolchain through the real module proxy into the real
// module cache (shared, never modified); what they unpack goes to a temporary directory.

func committedLock(t *testing.T) *Lock {
	t.Helper()
	l, err := Parse(committed(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func hostPlatform() string { return runtime.GOOS + "-" + runtime.GOARCH }

func TestToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the Go toolchain")
	}
	l := committedLock(t)
	if _, ok := l.Go.Archives[hostPlatform()]; !ok {
		testenv.Unavailable(t, "the lock pins no toolchain for this host (%s): run the test on one of %v", hostPlatform(), Platforms)
	}
	cache := t.TempDir()
	ctx := context.Background()
	goroot, err := Toolchain(ctx, l, WithCacheDir(cache))
	if err != nil {
		t.Fatalf("Toolchain() = %v", err)
	}
	cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "version")
	cmd.Env = []string{"GOTOOLCHAIN=local", "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s/bin/go version: %v", goroot, err)
	}
	if want := "go version " + l.Go.Version + " "; !strings.HasPrefix(string(out), want) {
		t.Errorf("go version = %q, want prefix %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(goroot, "src", "go.mod")); err != nil {
		t.Errorf("the unpacked GOROOT has no src/go.mod: %v", err)
	}

	// A second call uses the unpacked tree.
	again, err := Toolchain(ctx, l, WithCacheDir(cache))
	if err != nil || again != goroot {
		t.Fatalf("Toolchain() again = %q, %v, want %q, nil", again, err, goroot)
	}

	// A tree changed after unpacking is refused.
	tampered := filepath.Join(goroot, "src", "fmt", "print.go")
	f, err := os.OpenFile(tampered, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "\n// changed\n")
	f.Close()
	_, err = Toolchain(ctx, l, WithCacheDir(cache))
	if err == nil || !strings.Contains(err.Error(), "changed after unpacking") || !strings.Contains(err.Error(), l.Go.Archives[hostPlatform()].H1) {
		t.Fatalf("Toolchain(changed tree) = %v, want an error saying it was changed after unpacking, with the lock's h1", err)
	}
}

func TestToolchainRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the Go toolchain")
	}
	platform := hostPlatform()
	tests := []struct {
		name    string
		edit    func(l *Lock)
		wantErr []string
	}{
		{
			name: "zip hash differs from the lock",
			edit: func(l *Lock) {
				a := l.Go.Archives[platform]
				a.ZipSHA256 = "sha256:" + strings.Repeat("ab", 32)
				l.Go.Archives[platform] = a
			},
			wantErr: []string{"toolchain archive", "hash is sha256:", "lock/lock.json says sha256:" + strings.Repeat("ab", 32)},
		},
		{
			name: "module sum differs from the lock",
			edit: func(l *Lock) {
				a := l.Go.Archives[platform]
				a.H1 = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
				l.Go.Archives[platform] = a
			},
			wantErr: []string{"has module sum h1:", "lock/lock.json says h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		},
		{
			name: "a toolchain the proxy cannot serve",
			edit: func(l *Lock) {
				l.Go.Version = "go1.26.99"
				for _, p := range Platforms {
					a := l.Go.Archives[p]
					a.ModuleVersion = ToolchainModuleVersion(l.Go.Version, p)
					a.URL = ProxyURL(DefaultProxy, a.ModuleVersion)
					l.Go.Archives[p] = a
				}
			},
			wantErr: []string{"the module proxy cannot serve Go toolchain go1.26.99 for " + platform, "golang.org/toolchain@v0.0.1-go1.26.99." + platform, "go tool mage lock"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := committedLock(t)
			if _, ok := l.Go.Archives[platform]; !ok {
				testenv.Unavailable(t, "the lock pins no toolchain for %s: run this test on a host it pins", platform)
			}
			tt.edit(l)
			if err := l.Validate(); err != nil {
				t.Fatalf("the edited lock is invalid: %v", err)
			}
			cache := t.TempDir()
			goroot, err := Toolchain(context.Background(), l, WithCacheDir(cache))
			t.Logf("Toolchain() = %q, %v", goroot, err)
			if err == nil {
				t.Fatalf("Toolchain() = %q, nil, want an error", goroot)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Toolchain() = %v\nwant it to contain %q", err, want)
				}
			}
			// Nothing was unpacked.
			if entries, _ := os.ReadDir(cache); len(entries) != 0 {
				t.Errorf("Toolchain() refused but left %d entries in its cache directory", len(entries))
			}
		})
	}
}

// TestNixHash compares NixHash of a small zip with nix's own hash of the tree it unpacks to.
func TestNixHash(t *testing.T) {
	nixHash := testenv.LookPath(t, "nix-hash", "nix-bin")
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "m.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	files := []struct {
		name    string
		mode    os.FileMode
		content string
	}{
		{"top/bin/go", 0o755, "#!/bin/sh\necho go\n"},
		{"top/README", 0o644, "eight.8\n"}, // a multiple of 8 bytes: no padding
		{"top/src/a/b.go", 0o644, "package a\n"},
		{"top/src/a/empty", 0o644, ""},
		{"top/src/A.go", 0o644, "package src\n"}, // sorts before "a"
	}
	for _, fl := range files {
		h := &zip.FileHeader{Name: fl.name, Method: zip.Deflate}
		h.SetMode(fl.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, fl.content)
	}
	zw.Close()
	f.Close()

	got, err := NixHash(zipPath)
	if err != nil {
		t.Fatalf("NixHash() = %v", err)
	}

	// Unpack the way fetchTarball does (top-level directory stripped) and ask nix.
	tree := filepath.Join(dir, "tree")
	for _, fl := range files {
		p := filepath.Join(tree, strings.TrimPrefix(fl.name, "top/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fl.content), fl.mode); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(nixHash, "--type", "sha256", tree).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	// nix 2.8's nix-hash prints base16; the lock holds the SRI form.
	raw, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("nix-hash printed %q: %v", out, err)
	}
	if want := "sha256-" + base64.StdEncoding.EncodeToString(raw); got != want {
		t.Errorf("NixHash() = %s, want %s (nix-hash of the unpacked tree)", got, want)
	}
}

// TestUpdateMatchesLock recomputes the toolchain section from the proxy and compares it with
// the committed lock: the archives, their sums and nix hashes are what the proxy serves.
func TestUpdateMatchesLock(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads four Go toolchains")
	}
	want := committedLock(t)
	o, err := newOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Platforms {
		w := want.Go.Archives[p]
		d, err := o.modDownload(context.Background(), want.Go.Version, p, w.ModuleVersion)
		if err != nil {
			t.Fatal(err)
		}
		zipSum, err := fileSHA256(d.Zip)
		if err != nil {
			t.Fatal(err)
		}
		nix, err := NixHash(d.Zip)
		if err != nil {
			t.Fatal(err)
		}
		got := Archive{ModuleVersion: w.ModuleVersion, URL: ProxyURL(DefaultProxy, w.ModuleVersion), H1: d.Sum, ZipSHA256: zipSum, NixHash: nix}
		if got != w {
			t.Errorf("archive %s from the proxy = %+v, lock.json has %+v", p, got, w)
		}
	}
}
