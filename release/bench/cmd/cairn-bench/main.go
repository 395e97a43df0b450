// Command cairn-bench measures the release pipeline and the platform against their targets
// and writes the report (report.md and report.json). `go tool mage bench` runs it as
// `<pinned go> run ./release/bench/cmd/cairn-bench -goroot <pinned>`, so the image assembler
// it times is compiled by the pinned toolchain, as in a release.
//
// What is measured, and against what (every target is a ratio or bound within one run on
// the machine at hand, and every figure is reported next to it, PASS or MISS):
//
//   - Release pipeline (Pipeline). In a local git clone of HEAD: a newcomer's cold release
//     (empty GOCACHE, empty layer, binary and tool caches; the whole release command: go run
//     of the assembler, lock check, builds, images, signing, archives and packages) against
//     the floor, the bare `go build` of the same 14 binaries with the same toolchain, flags
//     and environment (package release/build), cold: ratio within 1.15x (issue 8) and 1.5x
//     (issue 17). Then the same release again with nothing changed: under 2 s. The output
//     lines of each release are timed as they arrive (Timeline), which shows where the time
//     goes.
//   - Image assembly (Assemble), in a child process so that its peak memory (VmHWM) is the
//     assembler's own: MB/s of binary turned into layers, against `gzip -6` on the same layer
//     tars, timed in the same run: faster.
//   - Image sizes (Sizes): per image, the overhead of layer + config + manifest + its share
//     of the index over the binary alone compressed by the same compressor: under 4 KiB;
//     and binary, layer and total beside those of the images before issue 17 (a pinned
//     commit built by its own release command): a separate service's image at most half.
//   - The platform: HTTP and MQTT publish throughput into the store and
//     publish-to-acknowledgement latency percentiles, on the all-in-one built from the tree,
//     100-byte messages, loopback only, bounded in count and time: 20,000 HTTP or 100,000
//     MQTT messages stored per second; then the same with TLS and on a three-node cluster.
//     The all-in-one is started and loaded by package platform/loadgen (net/http and paho
//     clients); this command drives it, and package bench reports the results (Figure,
//     Percentile, GoroutineSummary). Where a target is missed, a CPU profile of the
//     all-in-one (a pprof listener added only to the bench's build, with go build -overlay)
//     or of the assembler is taken and its top functions go into the report.
//
// Usage:
//
//	cairn-bench [flags]
//	cairn-bench assemble [flags]   (internal) time image assembly in this process
//
// Flags:
//
//	-C dir             module (a git work tree with a commit; default .); its lock is
//	                   <C>/lock/lock.json
//	-out dir           report directory (default <C>/dist/bench, which releases keep)
//	-goroot dir        pinned toolchain root (default: lock.Toolchain)
//	-only list         comma-separated parts: release,assemble,platform (default all)
//	-http-messages n   HTTP messages to publish (default 100000)
//	-mqtt-messages n   MQTT messages to publish (default 300000)
//	-http-workers n    keep-alive HTTP clients (default 32)
//	-mqtt-workers n    MQTT connections (default 32)
//	-window n          QoS 1 publishes in flight per MQTT connection (default 32)
//	-size n            message size in bytes (default 100)
//	-cap d             time cap of each publishing run (default 20s)
//	-keep              keep the scratch directory
//
// The assemble subcommand (-bin, -version, -commit, -epoch, -level, -compressor-module,
// -compressor-version, -runs, -cpuprofile) is what the assembly part runs in a child
// process; it prints its timings as JSON on standard output.
//
// Environment: SOURCE_DATE_EPOCH, if set, is the epoch (else HEAD's commit time). The
// releases and builds it runs get the passthrough list goenv.Passthrough (PATH, HOME,
// GOCACHE, GOMODCACHE, the proxy and sum database variables) with COSIGN_KEY and
// COSIGN_PASSWORD; GOMODCACHE, if unset, is what `go env GOMODCACHE` says.
//
// Output: the report in -out (dist/bench by default: a release moves dist/bench into the
// dist/ it swaps in, record.BenchDir, and dist/inputs.json does not list it, so a report
// neither disappears with the next release nor makes dist/ look changed), each file written
// to a temporary name and renamed, and the Markdown again on standard output; progress on standard error. The parts work in a scratch
// directory under $TMPDIR (cairn-bench-*, removed after unless -keep) and run the platform
// on loopback only.
//
// Exit status: 0 when the report is written, whatever it says (a missed target is a MISS in
// the report, a part that failed an ERROR); 1 on an error that keeps it from being written
// (no lock, no commit, no toolchain, an unwritable -out), on a usage error, or when
// interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release/bench"
	"github.com/cairn-iot/cairn/release/record"
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
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	l, err := c.resolve(ctx)
	if err != nil {
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
	c.parts(ctx, r)
	r.Machine["load average at end"] = loadavg()
	if err := r.Write(c.out); err != nil {
		return err
	}
	os.Stdout.Write(r.Markdown())
	n := r.Count()
	logf("report written to %s/report.{md,json}: %d PASS, %d MISS, %d ERROR", c.out, n[bench.Pass], n[bench.Miss], n[bench.Error])
	return ctx.Err()
}

func (c *config) register(fs *flag.FlagSet) {
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
}

// resolve makes the paths absolute, loads the lock, finds the pinned toolchain and the
// commit's identity.
func (c *config) resolve(ctx context.Context) (*lock.Lock, error) {
	var err error
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		return nil, err
	}
	if c.out == "" {
		c.out = filepath.Join(c.dir, "dist", record.BenchDir)
	}
	l, err := lock.Load(filepath.Join(c.dir, filepath.FromSlash(lock.File)))
	if err != nil {
		return nil, err
	}
	c.compressor = images.Compressor{Module: l.Compressor.Module, Version: l.Compressor.Version, Level: l.Compressor.Level}
	if c.goroot == "" {
		if c.goroot, err = lock.Toolchain(ctx, l); err != nil {
			return nil, fmt.Errorf("getting the pinned toolchain %s: %w", l.Go.Version, err)
		}
	}
	if err := c.identify(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// parts runs the wanted parts of the bench.
func (c *config) parts(ctx context.Context, r *bench.Report) {
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
	env := goenv.Pick(os.LookupEnv)
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
