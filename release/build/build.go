// Package build compiles Cairn's services the one way a release compiles them: the pinned
// toolchain's bin/go run directly, by package path, -trimpath, -buildvcs=false, stripped of
// the symbol table and DWARF (-s -w: stack traces and pprof do not need them; the build
// information that the SBOM, provenance and audit read stays), an empty build id, version
// and commit injected with -X, in the environment of goenv.Build: built from nothing, the
// target's GOOS, GOARCH and level variable, every determinism knob set explicitly, and the
// passthrough values (goenv.Passthrough) the caller read once at the edge.
//
// The `go build` step is a Runner, so tests inject a fake and need no compiler.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cairn-iot/cairn/lock/goenv"
)

// VersionPackage receives the version and commit through -X.
const VersionPackage = "github.com/cairn-iot/cairn/platform/version"

// Platform is a target's os/arch[/variant]; its fields are images.Platform's, so the
// release converts one into the other.
type Platform struct{ OS, Architecture, Variant string }

// String returns the platform as os/arch[/variant], for example "linux/arm/v7".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Dir returns the platform as a directory name, for example "linux_arm_v7".
func (p Platform) Dir() string { return strings.ReplaceAll(p.String(), "/", "_") }

// Target is one platform a release builds for.
type Target struct {
	Platform Platform
	// Env is the platform's part of the environment: GOOS, GOARCH and the level variable.
	Env []string
}

// Targets are the release platforms, in index order: amd64 first, then arm/v7.
var Targets = []Target{
	{Platform: Platform{OS: "linux", Architecture: "amd64"}, Env: []string{"GOOS=linux", "GOARCH=amd64", "GOAMD64=v1"}},
	{Platform: Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, Env: []string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}},
}

// Args returns the arguments of `go` (after the program name) that build pkg into out.
func Args(version, commit, out, pkg string) []string {
	return []string{
		"build", "-trimpath", "-buildvcs=false",
		"-ldflags", fmt.Sprintf("-s -w -buildid= -X %s.Version=%s -X %s.Commit=%s", VersionPackage, version, VersionPackage, commit),
		"-o", out, pkg,
	}
}

// Runner runs goBin with args in dir with exactly env. The release passes Exec; tests a fake.
// Build calls it from one goroutine per target at once, so it must be safe for that.
type Runner func(ctx context.Context, dir, goBin string, args, env []string) error

// Exec is the real Runner: it runs the command and returns its output with any failure.
func Exec(ctx context.Context, dir, goBin string, args, env []string) error {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	dieWithParent(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", goBin, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// Package is one binary to build: Name is the output file name, Path the package path.
type Package struct {
	Name string
	Path string
}

// Options are the inputs of Build, all resolved by the caller.
type Options struct {
	GOROOT    string    // the pinned toolchain; GOROOT/bin/go builds
	ModuleDir string    // where the build runs
	OutDir    string    // binaries land in OutDir/<platform dir>/<name>
	Version   string    // -X version.Version
	Commit    string    // -X version.Commit
	Packages  []Package // in a fixed order
	Targets   []Target  // nil means Targets
	Pass      []string  // passthrough environment, read at the edge (goenv.Pick)
	Run       Runner    // nil means Exec
	// Cache, if set, reuses binaries whose link inputs are unchanged (see linkKeys).
	Cache Cache
	// List runs go list for Cache's keys; nil means ExecList.
	List Lister
	// Logf, if set, is told of each binary as it is done: which, for which platform, how
	// many of all, and how long it took or that the cache had it.
	Logf func(format string, args ...any)
}

// Binary is one built binary.
type Binary struct {
	Name     string
	Platform Platform
	Path     string // absolute path of the file
	SHA256   string // hex
}

// Build builds every package for every target and returns the binaries in order (targets
// outer, packages inner). The targets build concurrently, each one package at a time.
func Build(ctx context.Context, o Options) ([]Binary, error) {
	if o.GOROOT == "" {
		return nil, fmt.Errorf("no GOROOT given: want the pinned toolchain's (lock.Toolchain)")
	}
	run := o.Run
	if run == nil {
		run = Exec
	}
	targets := o.Targets
	if targets == nil {
		targets = Targets
	}
	if strings.ContainsAny(o.Version+o.Commit, " \t\n'\"") {
		return nil, fmt.Errorf("version %q, commit %q: want no spaces or quotes (they go into -ldflags)", o.Version, o.Commit)
	}
	goBin := filepath.Join(o.GOROOT, "bin", "go")
	// The targets build side by side, each its packages one at a time: a go build links on
	// one core, so one target per core keeps both busy, and the binaries are the same bytes
	// whatever runs beside them. The first error cancels the other target.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([][]Binary, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	var mu sync.Mutex // one Logf call at a time, counted in order
	done, total := 0, len(targets)*len(o.Packages)
	progress := func(name string, t Target, start time.Time, hit bool) {
		how := fmt.Sprintf("%.1fs", time.Since(start).Seconds())
		if hit {
			how = "from the cache"
		}
		mu.Lock()
		defer mu.Unlock()
		done++
		if o.Logf != nil {
			o.Logf("built %s for %s (%d of %d, %s)", name, t.Platform, done, total, how)
		}
	}
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = o.buildTarget(ctx, run, goBin, t, progress)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var bins []Binary
	for i := range targets {
		if errs[i] != nil && !errors.Is(errs[i], context.Canceled) {
			return nil, errs[i]
		}
	}
	for i := range targets {
		if errs[i] != nil {
			return nil, errs[i]
		}
		bins = append(bins, results[i]...)
	}
	return bins, nil
}

// buildTarget builds every package for t, in order, and tells progress of each.
func (o Options) buildTarget(ctx context.Context, run Runner, goBin string, t Target, progress func(string, Target, time.Time, bool)) ([]Binary, error) {
	dir := filepath.Join(o.OutDir, t.Platform.Dir())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	env := goenv.Build(t.Env, o.Pass)
	var keys map[string]string
	if o.Cache != nil {
		list := o.List
		if list == nil {
			list = ExecList
		}
		var err error
		if keys, err = linkKeys(ctx, list, o, t, env); err != nil {
			return nil, fmt.Errorf("computing link keys for %s: %w", t.Platform, err)
		}
	}
	var bins []Binary
	for _, p := range o.Packages {
		start := time.Now()
		out := filepath.Join(dir, p.Name)
		var b []byte
		hit := false
		if key := keys[p.Path]; key != "" {
			var err error
			if b, hit, err = o.Cache.Get(key); err != nil {
				return nil, err
			}
			if hit {
				if err := os.WriteFile(out, b, 0o755); err != nil {
					return nil, fmt.Errorf("writing %s: %w", out, err)
				}
			}
		}
		if !hit {
			if err := run(ctx, o.ModuleDir, goBin, Args(o.Version, o.Commit, out, p.Path), env); err != nil {
				return nil, fmt.Errorf("building %s for %s: %w", p.Path, t.Platform, err)
			}
			var err error
			if b, err = os.ReadFile(out); err != nil {
				return nil, fmt.Errorf("reading built %s: %w", out, err)
			}
			if key := keys[p.Path]; key != "" {
				if err := o.Cache.Put(key, b); err != nil {
					return nil, err
				}
			}
		}
		progress(p.Name, t, start, hit)
		sum := sha256.Sum256(b)
		bins = append(bins, Binary{Name: p.Name, Platform: t.Platform, Path: out, SHA256: hex.EncodeToString(sum[:])})
	}
	return bins, nil
}
