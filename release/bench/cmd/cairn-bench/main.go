// Command cairn-bench measures the release pipeline and the platform and writes the report
// (report.md and report.json). `go tool mage bench` runs it as `<pinned go> run
// ./release/bench/cmd/cairn-bench`, so the image assembler it times is compiled by the
// pinned toolchain, as in a release. See package bench for what is measured and how.
//
// Usage:
//
//	cairn-bench [flags]
//
//	-C dir             module (a git work tree; default .)
//	-out dir           report directory (default <C>/dist/bench, which releases keep)
//	-goroot dir        pinned toolchain root (default: lock.Toolchain)
//	-only list         comma-separated parts: release,assemble,platform (default all)
//	-http-messages n, -mqtt-messages n, -http-workers n, -mqtt-workers n, -window n,
//	-size n, -cap d    the platform load (bounded by count and by time)
//	-keep              keep the scratch directory
//
//	cairn-bench assemble -bin dir ...   (internal) time image assembly in this process
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/bench"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "assemble" {
		err = assembleChild(os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	dir, out, goroot, only     string
	httpN, mqttN, httpW, mqttW int
	window, size               int
	capDur                     time.Duration
	keep                       bool
	version, commit            string
	epoch                      int64
	level                      int
	work                       string
	compressor                 images.Compressor
}

func (c *config) want(part string) bool {
	return c.only == "" || slices.Contains(strings.Split(c.only, ","), part)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cairn-bench", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.dir, "C", ".", "module (a git work tree)")
	fs.StringVar(&c.out, "out", "", "report directory (default <C>/dist/bench)")
	fs.StringVar(&c.goroot, "goroot", "", "pinned toolchain root (default: from the lock)")
	fs.StringVar(&c.only, "only", "", "comma-separated parts: release,assemble,platform (default all)")
	fs.IntVar(&c.httpN, "http-messages", 100000, "HTTP messages to publish")
	fs.IntVar(&c.mqttN, "mqtt-messages", 300000, "MQTT messages to publish")
	fs.IntVar(&c.httpW, "http-workers", 32, "keep-alive HTTP clients")
	fs.IntVar(&c.mqttW, "mqtt-workers", 32, "MQTT connections")
	fs.IntVar(&c.window, "window", 32, "QoS 1 publishes in flight per MQTT connection")
	fs.IntVar(&c.size, "size", 100, "message size in bytes")
	fs.DurationVar(&c.capDur, "cap", 20*time.Second, "time cap of each publishing run")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(c.dir, "dist", release.BenchDir)
	}
	l, err := lock.Load(filepath.Join(c.dir, filepath.FromSlash(lock.File)))
	if err != nil {
		return err
	}
	c.compressor = images.Compressor{Module: l.Compressor.Module, Version: l.Compressor.Version, Level: l.Compressor.Level}
	if c.goroot == "" {
		if c.goroot, err = lock.Toolchain(ctx, l); err != nil {
			return fmt.Errorf("getting the pinned toolchain %s: %w", l.Go.Version, err)
		}
	}
	if err := c.identify(ctx); err != nil {
		return err
	}
	if c.work, err = os.MkdirTemp("", "cairn-bench-"); err != nil {
		return err
	}
	if c.keep {
		logf("scratch directory %s (kept)", c.work)
	} else {
		defer os.RemoveAll(c.work)
	}
	r := &bench.Report{Version: c.version, Commit: c.commit, Machine: map[string]string{
		"cpus": strconv.Itoa(runtime.NumCPU()), "toolchain": l.Go.Version,
		"load average at start": loadavg(),
	}}
	// Each part reports its own errors as figures; the report is written whatever happens.
	// The report shows release, assembly, sizes, platform, whatever order they run in.
	for _, part := range []struct{ name, title string }{
		{"release", "Release pipeline"}, {"assemble", "Image assembly"}, {"assemble", "Image sizes"},
		{"platform", "Platform: publish into the store"}, {"platform", tlsTitle}, {"platform", clusterTitle},
	} {
		if c.want(part.name) {
			r.Section(part.title)
		}
	}
	// The platform goes first, on a quiet machine: the release part writes gigabytes and
	// leaves the page cache and the disk busy for a while after it, which slowed the HTTP
	// figures by a quarter when the platform part came last. Dirty pages are flushed first.
	if c.want("platform") {
		logf("flushing the file system's dirty pages before the platform part")
		syscall.Sync()
		single := c.platformPart(ctx, r)
		if ctx.Err() == nil {
			c.tlsPart(ctx, r, single)
		}
		if ctx.Err() == nil {
			c.clusterPart(ctx, r, single)
		}
	}
	var binDir string
	if c.want("release") && ctx.Err() == nil {
		binDir = c.releasePart(ctx, r)
	}
	if c.want("assemble") && ctx.Err() == nil {
		c.assemblePart(ctx, r, binDir)
	}
	r.Machine["load average at end"] = loadavg()
	if err := r.Write(c.out); err != nil {
		return err
	}
	os.Stdout.Write(r.Markdown())
	n := r.Count()
	logf("report written to %s/report.{md,json}: %d PASS, %d MISS, %d ERROR", c.out, n[bench.Pass], n[bench.Miss], n[bench.Error])
	return ctx.Err()
}

// identify reads the commit, version and epoch of HEAD once.
func (c *config) identify(ctx context.Context) error {
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", c.dir}, args...)...).Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w (want a git work tree with a commit)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	var err error
	if c.commit, err = git("rev-parse", "HEAD"); err != nil {
		return err
	}
	if c.version, err = git("describe", "--tags", "--always", "HEAD"); err != nil {
		return err
	}
	ct := os.Getenv("SOURCE_DATE_EPOCH")
	if ct == "" {
		if ct, err = git("log", "-1", "--format=%ct", "HEAD"); err != nil {
			return err
		}
	}
	if c.epoch, err = strconv.ParseInt(ct, 10, 64); err != nil || c.epoch <= 0 {
		return fmt.Errorf("epoch %q: want seconds since 1970 (SOURCE_DATE_EPOCH or HEAD's commit time)", ct)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func errFigure(name, unit string, t *bench.Target, err error) bench.Figure {
	return bench.Figure{Name: name, Unit: unit, Target: t, Err: err.Error()}
}

// releasePart times cold and warm releases against the floor; it returns the floor's bin
// directory (the real binaries for the assembly part), "" if it could not build them.
func (c *config) releasePart(ctx context.Context, r *bench.Report) string {
	s := r.Section("Release pipeline")
	s.Notef("In a local git clone of %s. Cold = a newcomer's first release: `cairn-release -mode release` (what `go tool mage release` runs) with an empty GOCACHE, an empty layer and binary cache and an empty tool cache (the modules' nix hash), that is with GOCACHE and ~/.cache/cairn empty; kept, as for the floor: the module cache and the unpacked toolchain. Nothing changed = `go tool mage release` again, timed from the command to its exit; the first `go tool mage release` after the cold release also compiles mage's own binary (mage rebuilds it with go build whenever GOCACHE is set, so the second run only links from GOCACHE) and is reported on its own line. The floor is the bare `go build` of the same %d binaries (package release/build, as the release builds them: same toolchain, flags and environment, the two platforms side by side, one binary at a time each), cold with an empty GOCACHE of its own, warm with it filled. Order: floor cold, release cold, release with nothing changed, floor warm.", c.commit, 2*len(release.Services))
	coldTarget := &bench.Target{Op: "<=", Value: 1.15}    // issue 8
	newcomerTarget := &bench.Target{Op: "<=", Value: 1.5} // issue 17
	warmTarget := &bench.Target{Op: "<", Value: 2}
	p := &bench.Pipeline{Source: c.dir, Work: c.work, GOROOT: c.goroot, Commit: c.commit, Pass: passEnv(), Log: os.Stderr}
	logf("copying %s", c.commit)
	if err := p.Copy(ctx); err != nil {
		s.Add(errFigure("cold release / floor", "x", coldTarget, err))
		return ""
	}
	info, err := source.Resolve(ctx, source.ExecGit, p.Tree(), os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		s.Add(errFigure("cold release / floor", "x", coldTarget, err))
		return ""
	}
	p.Version, p.Commit = info.Version, info.Commit
	floorBin := filepath.Join(c.work, "floor-bin")
	floorCache := filepath.Join(c.work, "gocache-floor")
	relCache := filepath.Join(c.work, "gocache-release")
	cache := filepath.Join(c.work, "cache")
	toolCache := filepath.Join(c.work, "tools")
	mageCache := filepath.Join(c.work, "mage")
	dist := filepath.Join(p.Tree(), "dist")

	logf("floor, cold")
	floorCold, err := p.Floor(ctx, floorBin, floorCache)
	if err != nil {
		s.Add(errFigure("floor: go build, cold", "s", nil, err))
		return ""
	}
	logf("release, cold")
	relCold, tlCold, errCold := p.Release(ctx, relCache, cache, toolCache)
	var relWarm, mageFirst time.Duration
	var tlWarm *bench.Timeline
	var errWarm error
	if errCold == nil {
		logf("release, nothing changed, first go tool mage release (mage compiles itself)")
		if first, tl, err := p.Mage(ctx, relCache, mageCache, "release"); err != nil {
			errWarm = fmt.Errorf("%w\n%s", err, tail(tl.Phases(0), 20))
		} else {
			mageFirst = first
			logf("release, nothing changed: go tool mage release")
			relWarm, tlWarm, errWarm = p.Mage(ctx, relCache, mageCache, "release")
		}
	}
	logf("floor, warm")
	floorWarm, errFloorWarm := p.Floor(ctx, filepath.Join(c.work, "floor-bin-warm"), floorCache)

	s.Add(bench.Figure{Name: "floor: go build, cold", Value: floorCold.Seconds(), Unit: "s"})
	if errCold != nil {
		s.Add(errFigure("release, cold", "s", nil, errCold))
		s.Add(errFigure("cold release / floor", "x", coldTarget, errCold))
	} else {
		ratio := bench.Ratio(relCold.Seconds(), floorCold.Seconds())
		s.Add(bench.Figure{Name: "release, cold", Value: relCold.Seconds(), Unit: "s"})
		s.Add(bench.Figure{Name: "cold release / floor", Value: ratio, Unit: "x", Target: coldTarget})
		s.Add(bench.Figure{Name: "cold release / floor, newcomer's target", Value: ratio, Unit: "x", Target: newcomerTarget})
	}
	if errFloorWarm != nil {
		s.Add(errFigure("floor: go build, warm", "s", nil, errFloorWarm))
	} else {
		s.Add(bench.Figure{Name: "floor: go build, warm", Value: floorWarm.Seconds(), Unit: "s"})
	}
	switch {
	case errCold != nil:
		s.Add(errFigure("release, nothing changed (go tool mage release)", "s", warmTarget, errCold))
	case errWarm != nil:
		s.Add(errFigure("release, nothing changed (go tool mage release)", "s", warmTarget, errWarm))
	default:
		s.Add(bench.Figure{Name: "first go tool mage release after it (mage compiles its binary into GOCACHE)", Value: mageFirst.Seconds(), Unit: "s"})
		s.Add(bench.Figure{Name: "release, nothing changed (go tool mage release)", Value: relWarm.Seconds(), Unit: "s", Target: warmTarget})
		if errFloorWarm == nil {
			s.Add(bench.Figure{Name: "nothing-changed release / warm floor", Value: bench.Ratio(relWarm.Seconds(), floorWarm.Seconds()), Unit: "x"})
		}
		if !strings.Contains(tlWarm.Text(), "is up to date") {
			s.Notef("The release with nothing changed did not find dist/ up to date: it rebuilt.")
		}
	}
	if errCold == nil {
		same, total, err := bench.SameFiles(floorBin, filepath.Join(dist, "bin"))
		if err == nil {
			s.Add(bench.Figure{Name: "release binaries identical to the floor's", Value: float64(same), Unit: "", Note: fmt.Sprintf("of %d", total)})
		}
		if unique, apparent, err := bench.DiskUsage(dist); err == nil {
			s.Add(bench.Figure{Name: "size of dist/ on disk (hard-linked blobs once)", Value: float64(unique), Unit: "B",
				Note: fmt.Sprintf("%s counting every path", bench.FormatValue(float64(apparent), "B"))})
		}
	}
	if tlCold != nil && errCold == nil {
		for _, ph := range tlCold.ReleasePhases(relCold) {
			f := bench.Figure{Name: "cold release: " + ph.Name, Value: ph.Duration.Seconds(), Unit: "s"}
			if strings.HasPrefix(ph.Name, "go builds") {
				f.Note = fmt.Sprintf("%.2fx the floor's %.1f s", ph.Duration.Seconds()/floorCold.Seconds(), floorCold.Seconds())
			}
			s.Add(f)
		}
		s.Add(bench.Figure{Name: "cold release beyond the floor", Value: (relCold - floorCold).Seconds(), Unit: "s",
			Note: fmt.Sprintf("the 1.15x target allows %.1f s", 0.15*floorCold.Seconds())})
	}
	if errCold == nil && relCold.Seconds() > 1.15*floorCold.Seconds() {
		s.Notef("Why the cold release misses: the phases beyond the go builds are in the table. The largest are usually compiling cairn-release itself into the empty GOCACHE (go-containerregistry and the release packages; the standard library and the shared modules are compiled once for it and the linux/amd64 builds, both with -trimpath) and the archives and .debs (written in Go as goreleaser writes them: tar.gz at gzip's best compression, byte for byte goreleaser's, over about 200 MB of binaries, the four files side by side). The go builds themselves are the floor's work, done the same way.")
	}
	if tlCold != nil {
		s.Notef("Where the cold release's time goes (arrival of each output line, and the time since the previous one; before the first line: compiling cairn-release with `go run`):\n%s", tail(tlCold.Phases(relCold), 60))
	}
	if tlWarm != nil {
		s.Notef("Where the release with nothing changed spends its time (before the line: go tool mage starting, mage compiling its binary from the warm GOCACHE, git, hashing the module tree and every dist/ file):\n%s", tail(tlWarm.Phases(relWarm), 60))
	}
	return floorBin
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// passEnv is the passthrough environment of the children, the signing key variables with it.
func passEnv() []string {
	env := build.PassthroughEnv(os.LookupEnv)
	for _, k := range []string{"COSIGN_KEY", "COSIGN_PASSWORD"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("GOMODCACHE"); !ok {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			env = append(env, "GOMODCACHE="+strings.TrimSpace(string(out)))
		}
	}
	return env
}

// childResult is what `cairn-bench assemble` prints.
type childResult struct {
	RunsNS  []int64 `json:"runs_ns"`
	Bytes   int64   `json:"bytes"`
	PeakRSS int64   `json:"peak_rss"`
}

// assembleChild times image assembly of the binaries in -bin in this process (a fresh one,
// so its peak memory is the assembler's) and prints a childResult.
func assembleChild(args []string) error {
	fs := flag.NewFlagSet("cairn-bench assemble", flag.ContinueOnError)
	bin := fs.String("bin", "", "binaries, dist/bin layout")
	version := fs.String("version", "", "version")
	commit := fs.String("commit", "", "commit")
	epoch := fs.Int64("epoch", 0, "epoch")
	level := fs.Int("level", 6, "gzip level")
	module := fs.String("compressor-module", images.DefaultCompressor.Module, "compressor module")
	cversion := fs.String("compressor-version", images.DefaultCompressor.Version, "compressor version")
	runs := fs.Int("runs", 3, "runs")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// As a release does: one service's binaries read at a time, every index kept to the end.
	var res childResult
	comp := images.Compressor{Module: *module, Version: *cversion, Level: *level}
	for range *runs {
		var idxs []v1.ImageIndex
		var d time.Duration
		res.Bytes = 0
		for _, s := range release.Services {
			svc, err := bench.LoadService(*bin, s, *version, *commit)
			if err != nil {
				return err
			}
			res.Bytes += bench.BinaryBytes([]bench.Service{svc})
			idx, sd, err := bench.Assemble([]bench.Service{svc}, time.Unix(*epoch, 0), comp)
			if err != nil {
				return err
			}
			d += sd
			idxs = append(idxs, idx...)
		}
		runtime.KeepAlive(idxs)
		res.RunsNS = append(res.RunsNS, d.Nanoseconds())
	}
	var err error
	if res.PeakRSS, err = bench.PeakRSS(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func (c *config) child(ctx context.Context, binDir string, runs int, cpuprofile string) (childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	args := []string{"assemble", "-bin", binDir, "-version", c.version, "-commit", c.commit,
		"-epoch", strconv.FormatInt(c.epoch, 10), "-level", strconv.Itoa(c.compressor.Level),
		"-compressor-module", c.compressor.Module, "-compressor-version", c.compressor.Version,
		"-runs", strconv.Itoa(runs)}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return childResult{}, fmt.Errorf("assembling in a child: %w", err)
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		return childResult{}, fmt.Errorf("reading the child's result %q: %w", out, err)
	}
	return res, nil
}

func (c *config) assemblePart(ctx context.Context, r *bench.Report, binDir string) {
	s := r.Section("Image assembly")
	if d := filepath.Join(c.dir, "dist", "bin"); binDir == "" {
		if _, err := bench.LoadServices(d, c.version, c.commit); err == nil {
			binDir = d
			s.Notef("Binaries: %s (the last release's).", d)
		}
	}
	if binDir == "" {
		binDir = filepath.Join(c.work, "assemble-bin")
		p := &bench.Pipeline{Source: c.dir, Work: filepath.Join(c.work, "assemble"), GOROOT: c.goroot,
			Version: c.version, Commit: c.commit, Pass: passEnv()}
		logf("building the binaries to assemble")
		err := p.Copy(ctx)
		if err == nil {
			_, err = p.Floor(ctx, binDir, filepath.Join(os.TempDir(), "cairn-bench-gocache"))
		}
		if err != nil {
			s.Add(errFigure("assembly", "MB/s", nil, err))
			return
		}
	}
	svcs, err := bench.LoadServices(binDir, c.version, c.commit)
	if err != nil {
		s.Add(errFigure("assembly", "MB/s", nil, err))
		return
	}
	total := bench.BinaryBytes(svcs)
	epoch := time.Unix(c.epoch, 0)

	logf("gzip -%d of the layers", c.compressor.Level)
	gzipTarget := (*bench.Target)(nil)
	var gzipMBs float64
	tars, err := bench.LayerTars(svcs, epoch)
	var gzd time.Duration
	var gzn int64
	if err == nil {
		gzd, gzn, err = bench.Gzip(ctx, "gzip", c.compressor.Level, tars)
	}
	if err != nil {
		s.Add(errFigure(fmt.Sprintf("gzip -%d on the same bytes", c.compressor.Level), "MB/s", nil, err))
	} else {
		gzipMBs = float64(total) / 1e6 / gzd.Seconds()
		gzipTarget = &bench.Target{Op: ">", Value: gzipMBs}
	}

	logf("assembling %d images in a child process", len(svcs))
	res, err := c.child(ctx, binDir, 3, "")
	if err != nil {
		s.Add(errFigure("assembly (binary bytes turned into layers)", "MB/s", gzipTarget, err))
		return
	}
	runs := append([]int64(nil), res.RunsNS...)
	slices.Sort(runs)
	median := time.Duration(runs[len(runs)/2])
	asmMBs := float64(total) / 1e6 / median.Seconds()
	s.Notef("%d services x 2 platforms, %s of binaries, assembled by package images with no layer cache (tar, gzip level %d by %s %s, SHA-256, JSON), median of %d runs in a child process; gzip -%d -n: one process per layer tar, stdin to stdout, the same %d layer tars.",
		len(svcs), bench.FormatValue(float64(total)/(1<<20), "MiB"), c.compressor.Level, c.compressor.Module, c.compressor.Version, len(runs), c.compressor.Level, len(tars))
	s.Add(bench.Figure{Name: "assembly (binary bytes turned into layers)", Value: asmMBs, Unit: "MB/s", Target: gzipTarget})
	if gzipTarget != nil {
		s.Add(bench.Figure{Name: fmt.Sprintf("gzip -%d on the same bytes", c.compressor.Level), Value: gzipMBs, Unit: "MB/s"})
		s.Add(bench.Figure{Name: "assembly speed / gzip speed", Value: bench.Ratio(asmMBs, gzipMBs), Unit: "x"})
		s.Add(bench.Figure{Name: fmt.Sprintf("gzip -%d output", c.compressor.Level), Value: float64(gzn), Unit: "B"})
	}
	s.Add(bench.Figure{Name: "assembly time (median)", Value: median.Seconds(), Unit: "s"})
	s.Add(bench.Figure{Name: "assembler peak memory (VmHWM of the child)", Value: float64(res.PeakRSS) / (1 << 20), Unit: "MiB"})
	if gzipTarget != nil && !gzipTarget.Holds(asmMBs) {
		prof := filepath.Join(c.work, "assemble.pprof")
		if _, err := c.child(ctx, binDir, 1, prof); err == nil {
			s.Notef("Assembly is slower than gzip; CPU profile of one assembly (top functions):\n%s", c.pprofTop(ctx, prof, ""))
		}
	}

	c.sizesPart(ctx, r, svcs, epoch)
}

// pprofTop runs `go tool pprof -top` on a profile and keeps the function table.
func (c *config) pprofTop(ctx context.Context, profile, bin string) string {
	return c.pprof(ctx, profile, bin, "-top", "-nodecount=15") + "\n\nBy cumulative time:\n" +
		c.pprof(ctx, profile, bin, "-top", "-cum", "-nodecount=30")
}

func (c *config) pprof(ctx context.Context, profile, bin string, flags ...string) string {
	args := append([]string{"tool", "pprof"}, flags...)
	if bin != "" {
		args = append(args, bin)
	}
	args = append(args, profile)
	out, err := exec.CommandContext(ctx, filepath.Join(c.goroot, "bin", "go"), args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("pprof failed: %v\n%s", err, out)
	}
	// Keep the numbers, not the header naming the file, build id and wall-clock time.
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Time:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Dropped ") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// pprofOverlay is added to the all-in-one only in the bench's own build (go build -overlay):
// a CPU profile endpoint on a loopback address from CAIRN_BENCH_PPROF. The released binary
// and the repository's sources do not have it.
const pprofOverlay = `package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("CAIRN_BENCH_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		panic("CAIRN_BENCH_PPROF: want a loopback host:port, got " + addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
	go http.Serve(l, mux)
}
`

// platformPart measures the all-in-one alone; it returns the messages stored per second
// by protocol, for the cluster part to compare with.
func (c *config) platformPart(ctx context.Context, r *bench.Report) map[string]float64 {
	s := r.Section("Platform: publish into the store")
	httpTarget := &bench.Target{Op: ">=", Value: 20000}
	mqttTarget := &bench.Target{Op: ">=", Value: 100000}
	bin := c.cairnBin()
	overlayDir := filepath.Join(c.work, "overlay")
	os.MkdirAll(overlayDir, 0o755)
	pp := filepath.Join(overlayDir, "bench_pprof.go")
	os.WriteFile(pp, []byte(pprofOverlay), 0o644)
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(c.dir, "platform", "cmd", "cairn", "zz_bench_pprof.go"): pp}})
	ovFile := filepath.Join(overlayDir, "overlay.json")
	os.WriteFile(ovFile, ov, 0o644)
	logf("building the all-in-one from the tree")
	cmd := exec.CommandContext(ctx, filepath.Join(c.goroot, "bin", "go"), "build", "-trimpath", "-overlay", ovFile, "-o", bin, "./platform/cmd/cairn")
	cmd.Dir = c.dir
	cmd.Env = append(build.PassthroughEnv(os.LookupEnv), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", httpTarget, fmt.Errorf("building cairn: %w\n%s", err, out)))
		return nil
	}
	pprofAddr, _ := bench.FreeAddr()
	p, err := bench.StartPlatform(ctx, bin, filepath.Join(c.work, "cairn-data"), []string{"CAIRN_BENCH_PPROF=" + pprofAddr})
	if err != nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", httpTarget, err))
		return nil
	}
	defer p.Stop()
	s.Notef("The all-in-one built from the tree (plus a bench-only pprof listener), on loopback, a fresh data directory; %d-byte JSON messages; one thing publishing to one channel per protocol. HTTP: %d keep-alive connections, one request (= one message, no batching) in flight on each, from a minimal HTTP/1.1 client (net/http's client costs more CPU than the server; both share the cores); MQTT: %d connections (MQTT 3.1.1), QoS 1, up to %d publishes in flight each, one PUBLISH (= one message) per write, from a minimal MQTT client (paho's cost more CPU than the broker). Each run is bounded: %d HTTP / %d MQTT messages or %s. Throughput = acknowledged messages / time from the first publish until the store (GET /channels/{id}/messages total) holds them all. Latency = publish to acknowledgement (HTTP 202, MQTT PUBACK).",
		c.size, c.httpW, c.mqttW, c.window, c.httpN, c.mqttN, c.capDur)

	type protoRun struct {
		name   string
		target *bench.Target
		load   bench.Load
		do     func(context.Context, bench.Load) bench.LoadResult
	}
	runs := []protoRun{
		{"HTTP", httpTarget, bench.Load{Messages: c.httpN, Workers: c.httpW, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, p.HTTP},
		{"MQTT", mqttTarget, bench.Load{Messages: c.mqttN, Workers: c.mqttW, Window: c.window, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, p.MQTT},
	}
	var best float64
	var rows []map[string]any
	stored := map[string]float64{}
	for _, pr := range runs {
		logf("%s load", pr.name)
		res := pr.do(ctx, pr.load)
		tp := res.Throughput()
		stored[pr.name] = tp
		best = math.Max(best, tp/pr.target.Value)
		f := bench.Figure{Name: pr.name + " messages stored per second", Value: tp, Unit: "msg/s", Target: pr.target}
		if res.Acked == 0 {
			f.Err = "nothing acknowledged: " + res.FirstErr
		} else if res.StoredAt == 0 {
			f.Note = fmt.Sprintf("the store held %d of %d acknowledged messages after the wait", res.Stored, res.Acked)
		}
		s.Add(f)
		s.Add(bench.Figure{Name: pr.name + " acknowledged / failed", Value: float64(res.Acked), Unit: "", Note: fmt.Sprintf("%d failed", res.Failed)})
		for _, q := range []float64{50, 90, 99} {
			s.Add(bench.Figure{Name: fmt.Sprintf("%s latency p%g", pr.name, q), Value: float64(bench.Percentile(res.Latencies, q)) / 1e6, Unit: "ms"})
		}
		if res.StoredAt > 0 {
			s.Add(bench.Figure{Name: pr.name + " store lag after the last acknowledgement", Value: (res.StoredAt - res.Publish).Seconds(), Unit: "s"})
			// Both run on the same cores: how the machine was shared during the run.
			if res.ServerCPU > 0 {
				s.Add(bench.Figure{Name: pr.name + " CPU of the all-in-one", Value: math.Round(100*res.ServerCPU.Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
					Note: fmt.Sprintf("%.1f µs per message", float64(res.ServerCPU.Microseconds())/float64(res.Acked))})
			}
			s.Add(bench.Figure{Name: pr.name + " CPU of the load generator", Value: math.Round(100*res.GenCPU.Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
				Note: fmt.Sprintf("%.1f µs per message", float64(res.GenCPU.Microseconds())/float64(res.Acked))})
			if other := res.BusyCPU - res.GenCPU - res.ServerCPU; res.BusyCPU > 0 && res.ServerCPU > 0 {
				s.Add(bench.Figure{Name: pr.name + " CPU of other processes on the machine", Value: math.Round(100*max(other, 0).Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
					Note: "not the bench's: a busy machine lowers the figures above"})
			}
		}
		if res.FirstErr != "" {
			s.Notef("%s: first failure: %s", pr.name, res.FirstErr)
		}
		rows = append(rows, map[string]any{"protocol": pr.name, "sent": res.Sent, "acked": res.Acked, "failed": res.Failed,
			"stored": res.Stored, "publish_ns": res.Publish.Nanoseconds(), "stored_at_ns": res.StoredAt.Nanoseconds()})
		if !pr.target.Holds(tp) && ctx.Err() == nil {
			// Where the time goes: profile a second, shorter run of the same load.
			logf("%s missed its target: profiling a second run", pr.name)
			prof := filepath.Join(c.work, strings.ToLower(pr.name)+".pprof")
			gor := filepath.Join(c.work, strings.ToLower(pr.name)+".goroutines")
			secs := 5
			errc := make(chan error, 2)
			base := "http://" + pprofAddr + "/debug/pprof/"
			go func() { errc <- fetch(ctx, base+"profile?seconds="+strconv.Itoa(secs), prof) }()
			go func() {
				time.Sleep(time.Duration(secs) * time.Second / 2)
				errc <- fetch(ctx, base+"goroutine?debug=1", gor)
			}()
			l := pr.load
			l.Messages, l.Cap, l.StoreWait = 1<<30, time.Duration(secs)*time.Second, time.Second
			pr.do(ctx, l)
			err1, err2 := <-errc, <-errc
			if err := errors.Join(err1, err2); err != nil {
				s.Notef("%s: profiling failed: %v", pr.name, err)
			} else {
				top := c.pprofTop(ctx, prof, bin)
				s.Notef("%s missed: CPU profile of the all-in-one during a second %d s run of the same load (top functions; the sample total over the duration is the CPU the all-in-one used, 200%% = both cores):\n%s", pr.name, secs, top)
				if g, err := os.ReadFile(gor); err == nil {
					s.Notef("%s: where the all-in-one's goroutines were, halfway through that run (innermost first):\n%s", pr.name, bench.GoroutineSummary(string(g), 10))
				}
			}
		}
	}
	s.Data = rows
	s.Add(bench.Figure{Name: "platform target: HTTP >= 20,000 or MQTT >= 100,000 msg/s (best fraction of its target)", Value: best, Unit: "x", Target: &bench.Target{Op: ">=", Value: 1}})
	return stored
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		return fmt.Errorf("GET %s = %d, %d bytes: want 200 and a profile", url, resp.StatusCode, len(b))
	}
	return os.WriteFile(path, b, 0o644)
}
