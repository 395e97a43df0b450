package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.WriteFile(a, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b"), make([]byte, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if err := os.Link(a, filepath.Join(dir, "sub", "a-again")); err != nil {
		t.Fatal(err)
	}
	unique, apparent, err := DiskUsage(dir)
	if err != nil || unique != 1010 || apparent != 2010 {
		t.Errorf("DiskUsage = %d, %d, %v; want 1010 unique, 2010 apparent", unique, apparent, err)
	}
}
