package verify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/release/source"
)

// The clean room gets the regular files of the module's input files, with their
// executable bit: no link, no dist/, no .git, no key store.
func TestCopyTreeCopiesTheRegularInputFiles(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"go.mod": 0o644, "tool.sh": 0o755, "sub/x.go": 0o644, ".git/HEAD": 0o644,
		".cairn/keys/cosign.key": 0o600, "dist/release.json": 0o644,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("x.go", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := copyTree(dir, dst, filepath.Join(dir, "dist")); err != nil {
		t.Fatal(err)
	}
	copied, err := source.Files(dst, filepath.Join(dst, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	want := []source.File{{Rel: "go.mod", Kind: "file"}, {Rel: "sub/x.go", Kind: "file"}, {Rel: "tool.sh", Kind: "exec"}}
	if diff := cmp.Diff(want, copied); diff != "" {
		t.Errorf("copyTree copied (-want +got):\n%s", diff)
	}
}
