package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/test/testenv"
)

func TestTimeline(t *testing.T) {
	tl := newTimeline(time.Now(), nil)
	tl.Write([]byte("build"))
	tl.Write([]byte("ing\nimage a\nimage"))
	tl.Write([]byte(" b\n"))
	var got []string
	for _, l := range tl.Lines {
		got = append(got, l.Text)
	}
	if diff := cmp.Diff([]string{"building", "image a", "image b"}, got); diff != "" {
		t.Errorf("timeline lines (-want +got):\n%s", diff)
	}
	ph := tl.Phases(time.Hour)
	if n := strings.Count(ph, "\n"); n != 4 || !strings.Contains(ph, "3600.00s") || !strings.HasSuffix(ph, "(exit)\n") {
		t.Errorf("Phases() = %q, want 3 lines and an (exit) line at 3600.00s", ph)
	}
}

func TestWithCache(t *testing.T) {
	got := withCache([]string{"PATH=/bin", "GOCACHE=/old", "HOME=/h"}, "/new")
	if diff := cmp.Diff([]string{"PATH=/bin", "HOME=/h", "GOCACHE=/new"}, got); diff != "" {
		t.Errorf("withCache (-want +got):\n%s", diff)
	}
}

// fakeBins writes random "binaries" in the dist/bin layout for every release service.
func fakeBins(t testing.TB, size int) string {
	dir := t.TempDir()
	for _, p := range Platforms {
		os.MkdirAll(filepath.Join(dir, p.Dir()), 0o755)
		for _, s := range record.Services {
			b := make([]byte, size)
			rand.Read(b[:size/2]) // half random, half zeros: compressible
			if err := os.WriteFile(filepath.Join(dir, p.Dir(), s.Name), b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestAssembleAndSizes(t *testing.T) {
	dir := fakeBins(t, 64<<10)
	svcs, err := LoadServices(dir, "v1", "abc")
	if err != nil {
		t.Fatalf("LoadServices: %v", err)
	}
	if got, want := BinaryBytes(svcs), int64(len(record.Services)*2*(64<<10)); got != want {
		t.Errorf("BinaryBytes = %d, want %d", got, want)
	}
	epoch := time.Unix(1700000000, 0)
	idxs, _, err := Assemble(svcs, epoch, images.DefaultCompressor)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	sizes, err := Sizes(svcs, idxs, epoch, images.DefaultCompressor.Level)
	if err != nil {
		t.Fatalf("Sizes: %v", err)
	}
	if len(sizes) != 2*len(record.Services) {
		t.Fatalf("Sizes returned %d rows, want %d", len(sizes), 2*len(record.Services))
	}
	for i, z := range sizes {
		// The index's manifest descriptor sizes and the index itself, cross-checked.
		raw, _ := idxs[i/2].RawManifest()
		if z.IndexShare != int64(len(raw))/2 {
			t.Errorf("%s %s: IndexShare = %d, want %d", z.Service, z.Platform, z.IndexShare, len(raw)/2)
		}
		if z.Binary != 64<<10 || z.GzBinary <= 0 || z.GzBinary >= z.Binary {
			t.Errorf("%s %s: Binary %d, GzBinary %d: want 65536 and a smaller compressed size", z.Service, z.Platform, z.Binary, z.GzBinary)
		}
		if z.Total() != z.Layer+z.Config+z.Manifest+z.IndexShare || z.Overhead() != z.Total()-z.GzBinary {
			t.Errorf("%s %s: Total %d, Overhead %d do not add up: %+v", z.Service, z.Platform, z.Total(), z.Overhead(), z)
		}
		if z.AlignedOverhead() != z.Total()-z.GzAligned || z.GzAligned <= 0 {
			t.Errorf("%s %s: AlignedOverhead %d, GzAligned %d: want Total - GzAligned", z.Service, z.Platform, z.AlignedOverhead(), z.GzAligned)
		}
		if z.AlignedOverhead() <= 0 {
			t.Errorf("%s %s: AlignedOverhead = %d, want > 0 (config and manifest cost bytes)", z.Service, z.Platform, z.AlignedOverhead())
		}
	}
	if _, err := LoadServices(t.TempDir(), "v1", "abc"); err == nil {
		t.Errorf("LoadServices(empty dir) = nil error, want one naming the missing binary")
	}
}

func TestGzip(t *testing.T) {
	gz := testenv.LookPath(t, "gzip", "gzip")
	in := [][]byte{bytes.Repeat([]byte("cairn "), 10000), []byte("x")}
	_, n, err := Gzip(context.Background(), gz, 6, in)
	if err != nil {
		t.Fatalf("Gzip: %v", err)
	}
	if n <= 0 || n >= 60001 {
		t.Errorf("Gzip output = %d bytes, want between 1 and the input size", n)
	}
	missing := filepath.Join(t.TempDir(), "gzip")
	if _, _, err := Gzip(context.Background(), missing, 6, in); err == nil {
		t.Errorf("Gzip(%s) = nil error, want one", missing)
	}
}

func TestPeakRSS(t *testing.T) {
	n, err := PeakRSS()
	if err != nil {
		testenv.Unavailable(t, "reading the peak RSS needs Linux's /proc: %v", err)
	}
	if n < 1<<20 {
		t.Errorf("PeakRSS() = %d, want at least 1 MiB for a Go test binary", n)
	}
}

func TestSameFiles(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, f := range []struct{ dir, name, data string }{
		{a, "x/1", "one"}, {a, "x/2", "two"}, {a, "3", "three"},
		{b, "x/1", "one"}, {b, "x/2", "TWO"},
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(f.dir, f.name)), 0o755)
		os.WriteFile(filepath.Join(f.dir, f.name), []byte(f.data), 0o644)
	}
	same, total, err := SameFiles(a, b)
	if err != nil || same != 1 || total != 3 {
		t.Errorf("SameFiles = %d, %d, %v; want 1, 3, nil", same, total, err)
	}
}

func benchServices(b *testing.B) []Service {
	dir := fakeBins(b, 8<<20)
	svcs, err := LoadServices(dir, "v1", "abc")
	if err != nil {
		b.Fatal(err)
	}
	return svcs[:1]
}

// BenchmarkAssemble times one service's two-platform index from 8 MiB binaries, no cache.
func BenchmarkAssemble(b *testing.B) {
	svcs := benchServices(b)
	b.SetBytes(BinaryBytes(svcs))
	for b.Loop() {
		if _, _, err := Assemble(svcs, time.Unix(1700000000, 0), images.DefaultCompressor); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLayerTar times the uncompressed layer alone.
func BenchmarkLayerTar(b *testing.B) {
	svcs := benchServices(b)
	b.SetBytes(int64(len(svcs[0].Binaries[0].Data)))
	for b.Loop() {
		if _, err := images.LayerTar(svcs[0].Spec, svcs[0].Binaries[0].Data, time.Unix(1700000000, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGoroutineSummary(t *testing.T) {
	profile := `goroutine profile: total 23
16 @ 0x1 0x2 0x3
#	0x47b2a5	runtime.gopark+0xc5	/go/src/runtime/proc.go:435
#	0x47b2a6	github.com/nats-io/nats.go/jetstream.(*jetStream).PublishMsg+0x100	/x.go:1
#	0x47b2a7	github.com/cairn-iot/cairn/platform/messages.(*Publisher).Publish+0x20	/p.go:51
#	0x47b2a8	github.com/cairn-iot/cairn/platform/httpadapter.(*Adapter).publish+0x30	/h.go:159
#	0x47b2a9	net/http.HandlerFunc.ServeHTTP+0x10	/s.go:1

5 @ 0x4 0x5
#	0x1	runtime.gopark+0xc5	/go/src/runtime/proc.go:435
#	0x2	net/http.(*conn).serve+0x1	/s.go:2

2 @ 0x6
#	0x1	github.com/cairn-iot/cairn/platform/access.Ask+0x1	/a.go:1
`
	got := GoroutineSummary(profile, 2)
	want := `23 goroutines in 3 distinct stacks; the largest:
    16  github.com/nats-io/nats.go/jetstream.(*jetStream).PublishMsg <- cairn/platform/messages.(*Publisher).Publish <- cairn/platform/httpadapter.(*Adapter).publish
     5  runtime.gopark <- net/http.(*conn).serve`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GoroutineSummary (-want +got):\n%s", diff)
	}
}

func TestCopy(t *testing.T) {
	testenv.LookPath(t, "git", "git")
	src := t.TempDir()
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(src, "init", "-q")
	os.WriteFile(filepath.Join(src, "a"), []byte("committed"), 0o644)
	git(src, "add", "a")
	git(src, "commit", "-q", "-m", "one")
	commit := git(src, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(src, "a"), []byte("edited, not committed"), 0o644)
	os.WriteFile(filepath.Join(src, "b"), []byte("untracked"), 0o644)
	p := &Pipeline{Source: src, Work: t.TempDir(), Commit: commit}
	if err := p.Copy(context.Background()); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Tree(), "a")); string(b) != "committed" {
		t.Errorf("copied a = %q, want the committed %q", b, "committed")
	}
	if _, err := os.Stat(filepath.Join(p.Tree(), "b")); err == nil {
		t.Errorf("the untracked file b was copied")
	}
	if got := git(p.Tree(), "rev-parse", "HEAD"); got != commit {
		t.Errorf("the copy's HEAD = %s, want %s (a repository, for goreleaser's changelog)", got, commit)
	}
}
