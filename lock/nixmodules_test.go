package lock

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestNARHashTree compares NARHashTree of a filtered tree with nix's own hash of a copy
// holding only the kept files: what nix computes for the module derivation's $out.
func TestNARHashTree(t *testing.T) {
	nixHash := testenv.LookPath(t, "nix-hash", "nix-bin")
	files := []struct {
		name    string
		mode    os.FileMode
		content string
		keep    bool
	}{
		{"example.com/a/@v/v1.0.0.mod", 0o644, "module example.com/a\n", true},
		{"example.com/a/@v/v1.0.0.zip", 0o644, "zip bytes, twelve", true},
		{"example.com/a/@v/v1.0.0.info", 0o644, `{"Version":"v1.0.0"}`, false},
		{"example.com/a/@v/list", 0o644, "v1.0.0\n", false},
		{"example.com/!b/@v/v0.1.0.mod", 0o644, "", true}, // empty: no padding
		{"example.com/!b/@v/v0.1.0.lock", 0o644, "", false},
		{"example.com/x/run.mod", 0o755, "eight.8\n", true}, // executable, a multiple of 8 bytes
		{"only/skipped/v.info", 0o644, "{}", false},         // no kept file: no directory in the tree
	}
	keep := func(rel string) bool { return strings.HasSuffix(rel, ".mod") || strings.HasSuffix(rel, ".zip") }
	src, kept := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "kept")
	for _, f := range files {
		if keep(f.name) != f.keep {
			t.Fatalf("fixture %s: keep = %v, want %v", f.name, keep(f.name), f.keep)
		}
		dirs := []string{src}
		if f.keep {
			dirs = append(dirs, kept)
		}
		for _, d := range dirs {
			p := filepath.Join(d, filepath.FromSlash(f.name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := NARHashTree(src, keep)
	if err != nil {
		t.Fatalf("NARHashTree() = %v", err)
	}
	out, err := exec.Command(nixHash, "--type", "sha256", kept).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("nix-hash printed %q: %v", out, err)
	}
	if want := "sha256-" + base64.StdEncoding.EncodeToString(raw); got != want {
		t.Errorf("NARHashTree() = %s, want %s (nix-hash of the kept files)", got, want)
	}

	// A symlink is refused, never silently left out.
	if err := os.Symlink("v1.0.0.mod", filepath.Join(src, "example.com", "a", "@v", "v2.0.0.mod")); err != nil {
		t.Fatal(err)
	}
	if _, err := NARHashTree(src, keep); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("NARHashTree(tree with a symlink) = %v, want an error naming the symlink", err)
	}
}

// TestModulesNixHash checks the module set ModulesNixHash hashes on the fixture module: a
// fresh download of go.mod's requirements holds the proxy's .mod and .zip bytes of
// example.com/gzip and nothing of the tools modfile, .info or list files; and Check names
// a lock whose modules.nix_hash differs.
func TestModulesNixHash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	fx := newFixture(t)
	got, err := ModulesNixHash(context.Background(), fx.dir, WithEnv(fx.env...))
	if err != nil {
		t.Fatalf("ModulesNixHash() = %v", err)
	}
	proxy := strings.TrimPrefix(fx.proxy, "file://")
	want, err := NARHashTree(proxy, func(rel string) bool {
		return rel == "example.com/gzip/@v/v1.0.0.mod" || rel == "example.com/gzip/@v/v1.0.0.zip"
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("ModulesNixHash(fixture) = %s, want %s (the NAR of the proxy's example.com/gzip .mod and .zip)", got, want)
	}
	l, err := Load(filepath.Join(fx.dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if l.Modules.NixHash != got {
		t.Errorf("the fixture's lock has modules.nix_hash %s, want %s (Update and ModulesNixHash disagree)", l.Modules.NixHash, got)
	}

	other := "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	replaceIn(t, filepath.Join(fx.dir, File), `"nix_hash": "`+got+`"`, `"nix_hash": "`+other+`"`)
	err = fx.check()
	if want := "has nix hash " + got + ", lock/lock.json says modules.nix_hash " + other; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Check(lock with another modules.nix_hash) = %v, want an error containing %q", err, want)
	}
}
