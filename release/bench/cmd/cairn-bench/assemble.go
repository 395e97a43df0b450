package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release/bench"
	"github.com/cairn-iot/cairn/release/record"
)

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
		for _, s := range record.Services {
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
