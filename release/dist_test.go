package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/record"
)

func TestSecondReleaseWaitsForTheFirst(t *testing.T) {
	dist := filepath.Join(t.TempDir(), "dist")
	unlock, err := lockDist(dist, nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	acquired := make(chan func(), 1)
	go func() {
		u, err := lockDist(dist, func(msg string) { waiting <- msg })
		if err != nil {
			t.Error(err)
		}
		acquired <- u
	}()
	msg := <-waiting // the second release reports who holds the lock, then blocks
	if !strings.Contains(msg, "another release (pid ") || !strings.Contains(msg, ".dist.lock") {
		t.Errorf("wait message = %q, want it to name the holder and the lock file", msg)
	}
	select {
	case <-acquired:
		t.Fatal("second lockDist returned while the first holds the lock")
	default:
	}
	unlock()
	(<-acquired)()
}

func TestSwapIn(t *testing.T) {
	parent := t.TempDir()
	dist := filepath.Join(parent, "dist")
	for i, content := range []string{"first", "second"} {
		staging, err := newStaging(dist)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staging, "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := swapIn(staging, dist); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		got, err := os.ReadFile(filepath.Join(dist, "f"))
		if err != nil || string(got) != content {
			t.Errorf("after swap %d, dist/f = %q, %v, want %q", i, got, err, content)
		}
		if left, _ := filepath.Glob(filepath.Join(parent, "dist.staging-*")); len(left) != 0 {
			t.Errorf("after swap %d, staging dirs left: %v", i, left)
		}
	}
}

func TestSwapInKeepsTheBenchReport(t *testing.T) {
	parent := t.TempDir()
	dist := filepath.Join(parent, "dist")
	if err := os.MkdirAll(filepath.Join(dist, record.BenchDir), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dist, record.BenchDir, "report.md"), []byte("report"), 0o644)
	os.WriteFile(filepath.Join(dist, "old"), []byte("old release"), 0o644)
	staging, err := newStaging(dist)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(staging, "new"), []byte("new release"), 0o644)
	if err := swapIn(staging, dist); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dist, record.BenchDir, "report.md")); err != nil || string(b) != "report" {
		t.Errorf("dist/bench/report.md after a release = %q, %v; want the report kept", b, err)
	}
	if _, err := os.Stat(filepath.Join(dist, "old")); !os.IsNotExist(err) {
		t.Errorf("dist/old after a release: %v, want the old release gone", err)
	}
}
