package sign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestLinkBlobs: the blobs two layouts share end up as one file, the others stay, the
// layout still reads; a shared digest of another size is an error, not a link.
func TestLinkBlobs(t *testing.T) {
	idx, err := random.Index(256, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	own, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	shared, dir := filepath.Join(t.TempDir(), "oci"), filepath.Join(t.TempDir(), "cosign")
	for _, d := range []string{shared, dir} {
		p, err := layout.Write(d, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendIndex(idx); err != nil {
			t.Fatal(err)
		}
		if d == dir {
			if err := p.AppendImage(own); err != nil {
				t.Fatal(err)
			}
		}
	}
	saved, err := LinkBlobs(dir, shared)
	if err != nil || saved == 0 {
		t.Fatalf("LinkBlobs = %d, %v; want bytes saved", saved, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	linked, kept := 0, 0
	for _, e := range entries {
		di, _ := os.Stat(filepath.Join(dir, "blobs", "sha256", e.Name()))
		si, err := os.Stat(filepath.Join(shared, "blobs", "sha256", e.Name()))
		switch {
		case err == nil && os.SameFile(si, di):
			linked++
		case err == nil:
			t.Errorf("blob %s is in both layouts and not linked", e.Name())
		default:
			kept++
		}
	}
	if linked == 0 || kept == 0 {
		t.Errorf("linked %d blobs, kept %d of the layout's own; want some of each", linked, kept)
	}
	if again, err := LinkBlobs(dir, shared); err != nil || again != 0 {
		t.Errorf("LinkBlobs a second time = %d, %v; want nothing to do", again, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ii.IndexManifest(); err != nil || len(m.Manifests) != 2 {
		t.Fatalf("the linked layout reads %v, %v", m, err)
	}
	// A damaged shared blob (another size under the same digest) is refused.
	other := filepath.Join(t.TempDir(), "cosign")
	p2, _ := layout.Write(other, empty.Index)
	if err := p2.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	e, _ := os.ReadDir(filepath.Join(shared, "blobs", "sha256"))
	victim := filepath.Join(shared, "blobs", "sha256", e[0].Name())
	os.Remove(victim) // break the link first: the test damages shared only
	os.WriteFile(victim, []byte("damaged"), 0o644)
	if _, err := LinkBlobs(other, shared); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("LinkBlobs onto a damaged shared blob = %v, want an error saying a layout is damaged", err)
	}
}
