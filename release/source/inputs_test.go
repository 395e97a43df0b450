package source

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Files is the one list of what a release reads: the up-to-date check hashes it and
// verify's clean room copies it.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"go.mod": 0o644, "main.go": 0o644, "tool.sh": 0o755, "sub/x.go": 0o644,
		".git/HEAD": 0o644, "sub/.git/HEAD": 0o644, ".cairn/keys/cosign.key": 0o600,
		"dist/release.json": 0o644, "dist.staging-1/release.json": 0o644, ".dist.lock": 0o644,
		"dist.verify.json": 0o644, "dist.vsa/hello.intoto.json": 0o644, "sub/.cairn": 0o644,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"result": "/nix/store/x", "result-bin": "/nix/store/y", "sub/link": "x.go"} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Files(dir, filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{"go.mod", "file"}, {"main.go", "file"}, {"sub/.cairn", "file"}, {"sub/link", "link x.go"},
		{"sub/x.go", "file"}, {"tool.sh", "exec"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}
