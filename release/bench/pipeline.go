package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
)

// Pipeline times releases of one commit against the floor, the bare `go build` of the same
// binaries. Everything runs in a copy of the commit's tree under Work, with caches of its
// own, so the user's dist/, GOCACHE and layer cache are neither used nor touched.
type Pipeline struct {
	// Source is the git work tree to benchmark; Commit (a full hash) is copied out of it.
	Source string
	// Work is a scratch directory (created; the caller removes it).
	Work string
	// GOROOT is the pinned toolchain.
	GOROOT string
	// Version and Commit identify the release: Floor builds them in (source.Resolve of the
	// copy, as the release resolves them).
	Version, Commit string
	// Pass is the passthrough environment (goenv.Pick) plus COSIGN_* if set; GOCACHE
	// in it is replaced.
	Pass []string
	// Log receives progress lines.
	Log io.Writer
}

// Tree is the copied module.
func (p *Pipeline) Tree() string { return filepath.Join(p.Work, "src") }

// Copy checks the commit out into Tree: a local clone (objects shared with Source, so it
// is quick) detached at Commit, so only committed files count and the release steps that
// read git (the packages' changelog) find a repository.
func (p *Pipeline) Copy(ctx context.Context) error {
	dst := p.Tree()
	for _, args := range [][]string{
		{"clone", "--quiet", "--shared", "--no-checkout", p.Source, dst},
		{"-C", dst, "checkout", "--quiet", "--detach", p.Commit},
	} {
		cmd := exec.CommandContext(ctx, "git", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("copying %s: git %s: %w: %s", p.Commit, strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// withCache returns pass with GOCACHE replaced by dir.
func withCache(pass []string, dir string) []string {
	var out []string
	for _, kv := range pass {
		if !strings.HasPrefix(kv, "GOCACHE=") {
			out = append(out, kv)
		}
	}
	return append(out, "GOCACHE="+dir)
}

// Floor builds every service for both platforms into outDir exactly as a release does
// (package build: the same command, flags and environment, the platforms side by side), with
// GOCACHE=gocache, and returns how long it took.
func (p *Pipeline) Floor(ctx context.Context, outDir, gocache string) (time.Duration, error) {
	pkgs := make([]build.Package, len(record.Services))
	for i, s := range record.Services {
		pkgs[i] = build.Package{Name: s.Name, Path: s.Package}
	}
	start := time.Now()
	_, err := build.Build(ctx, build.Options{
		GOROOT: p.GOROOT, ModuleDir: p.Tree(), OutDir: outDir, Version: p.Version, Commit: p.Commit,
		Packages: pkgs, Pass: withCache(p.Pass, gocache),
	})
	return time.Since(start), err
}

// Line is one line of a child's output and when it arrived, since the child started.
type Line struct {
	At   time.Duration `json:"at_ns"`
	Text string        `json:"text"`
}

// Timeline collects a child's output lines with their arrival times.
type Timeline struct {
	mu      sync.Mutex
	start   time.Time
	partial []byte
	Lines   []Line
	tee     io.Writer
}

func newTimeline(start time.Time, tee io.Writer) *Timeline {
	return &Timeline{start: start, tee: tee}
}

// Write implements io.Writer.
func (t *Timeline) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := time.Since(t.start)
	if t.tee != nil {
		t.tee.Write(b)
	}
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.Lines = append(t.Lines, Line{At: at, Text: string(t.partial[:i])})
		t.partial = t.partial[i+1:]
	}
	return len(b), nil
}

// Text is the lines received so far, joined.
func (t *Timeline) Text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, l := range t.Lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// Phases turns the timeline into "duration  line" text: how long after the previous line
// each line arrived, so the slow phases stand out. total is the child's run time.
func (t *Timeline) Phases(total time.Duration) string {
	var b strings.Builder
	prev := time.Duration(0)
	for _, l := range t.Lines {
		fmt.Fprintf(&b, "%8.2fs  +%7.2fs  %s\n", l.At.Seconds(), (l.At - prev).Seconds(), l.Text)
		prev = l.At
	}
	fmt.Fprintf(&b, "%8.2fs  +%7.2fs  (exit)\n", total.Seconds(), (total - prev).Seconds())
	return b.String()
}

// Release runs the release as `go tool mage release` does (`<pinned go> run
// ./release/cmd/cairn-release -mode release`, lock check and steps included) in the copy,
// into its dist/, with GOCACHE=gocache, the layer and binary cache in cache and the tool
// cache (the modules' nix hash) in toolCache: all empty for a newcomer's first release. The
// version, commit and epoch come from the copy's git, as mage's come, so that Mage finds the
// same inputs. It returns the run time and the output's timeline.
func (p *Pipeline) Release(ctx context.Context, gocache, cache, toolCache string) (time.Duration, *Timeline, error) {
	return p.cairnRelease(ctx, gocache, "-mode", "release", "-cache", cache, "-tool-cache", toolCache)
}

// Build runs the copy's own `cairn-release -mode build` (the commit's build, with whatever
// flags it had then) into its dist/bin, with no binary cache.
func (p *Pipeline) Build(ctx context.Context, gocache string) (time.Duration, *Timeline, error) {
	return p.cairnRelease(ctx, gocache, "-mode", "build", "-cache", "none")
}

func (p *Pipeline) cairnRelease(ctx context.Context, gocache string, args ...string) (time.Duration, *Timeline, error) {
	args = append([]string{"run", "./release/cmd/cairn-release", "-goroot", p.GOROOT}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(p.GOROOT, "bin", "go"), args...)
	cmd.Env = goenv.Assembler(withCache(p.Pass, gocache), "local")
	return p.timed(cmd)
}

// Mage runs `go tool mage args...` in the copy with the host's go, GOCACHE=gocache and
// mage's binary cache in mageCache, and returns the run time and the output's timeline.
func (p *Pipeline) Mage(ctx context.Context, gocache, mageCache string, args ...string) (time.Duration, *Timeline, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "mage"}, args...)...)
	cmd.Env = append(withCache(p.Pass, gocache), "MAGEFILE_CACHE="+mageCache)
	return p.timed(cmd)
}

func (p *Pipeline) timed(cmd *exec.Cmd) (time.Duration, *Timeline, error) {
	cmd.Dir = p.Tree()
	start := time.Now()
	tl := newTimeline(start, p.Log)
	cmd.Stdout, cmd.Stderr = tl, tl
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, tl, fmt.Errorf("%s in %s: %w", strings.Join(cmd.Args, " "), p.Tree(), err)
	}
	return d, tl, nil
}

// SameFiles compares the files of dir a with those of dir b by SHA-256 and returns how
// many of a's files b has with the same bytes, and the total in a.
func SameFiles(a, b string) (same, total int, err error) {
	err = filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		total++
		x, err := fileSum(path)
		if err != nil {
			return err
		}
		y, err := fileSum(filepath.Join(b, rel))
		if err == nil && x == y {
			same++
		}
		return nil
	})
	return same, total, err
}

func fileSum(path string) ([32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// Phase is a stretch of a release's timeline.
type Phase struct {
	Name     string
	Duration time.Duration
}

// phaseStarts are the release's log lines that open each phase, in order, by prefix.
var phaseStarts = []struct{ prefix, name string }{
	{"checking lock/", "lock check"},
	{"building ", "go builds (14 binaries)"},
	{"image ", "image assembly"},
	{"signing:", "signatures, SBOM and provenance"},
	{"packages: ", "archives and .debs, fingerprint, swap"},
	{"release ", "exit"},
}

// Phases splits a release's timeline (total: its run time) at the first line of each phase:
// before the first, `go run` compiling cairn-release and the up-to-date check. A phase whose
// line never came is left out; "release " counts only after the packages.
func (t *Timeline) ReleasePhases(total time.Duration) []Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	type mark struct {
		name string
		at   time.Duration
	}
	marks := []mark{{"compiling cairn-release (go run), up-to-date check", 0}}
	next := 0
	for _, l := range t.Lines {
		for i := next; i < len(phaseStarts); i++ {
			if strings.HasPrefix(l.Text, phaseStarts[i].prefix) && (phaseStarts[i].prefix != "release " || strings.Contains(l.Text, " written to ")) {
				marks = append(marks, mark{phaseStarts[i].name, l.At})
				next = i + 1
				break
			}
		}
	}
	var out []Phase
	for i, m := range marks {
		end := total
		if i+1 < len(marks) {
			end = marks[i+1].at
		}
		out = append(out, Phase{Name: m.name, Duration: end - m.at})
	}
	return out
}
