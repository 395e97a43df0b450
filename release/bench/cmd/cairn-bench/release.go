package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-iot/cairn/release/bench"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/source"
)

// releasePart times cold and warm releases against the floor; it returns the floor's bin
// directory (the real binaries for the assembly part), "" if it could not build them.
func (c *config) releasePart(ctx context.Context, r *bench.Report) string {
	s := r.Section("Release pipeline")
	s.Notef("In a local git clone of %s. Cold = a newcomer's first release: `cairn-release -mode release` (what `go tool mage release` runs) with an empty GOCACHE, an empty layer and binary cache and an empty tool cache (the modules' nix hash), that is with GOCACHE and ~/.cache/cairn empty; kept, as for the floor: the module cache and the unpacked toolchain. Nothing changed = `go tool mage release` again, timed from the command to its exit; the first `go tool mage release` after the cold release also compiles mage's own binary (mage rebuilds it with go build whenever GOCACHE is set, so the second run only links from GOCACHE) and is reported on its own line. The floor is the bare `go build` of the same %d binaries (package release/build, as the release builds them: same toolchain, flags and environment, the two platforms side by side, one binary at a time each), cold with an empty GOCACHE of its own, warm with it filled. Order: floor cold, release cold, release with nothing changed, floor warm.", c.commit, 2*len(record.Services))
	runs, fail := c.runReleases(ctx)
	if fail != nil {
		s.Add(*fail)
		return ""
	}
	runs.figures(s)
	runs.phases(s)
	return runs.floorBin
}

// Targets of the release part: the cold release against the floor (issue 8, and the
// newcomer's of issue 17), and the release with nothing changed.
var (
	coldTarget     = &bench.Target{Op: "<=", Value: 1.15}
	newcomerTarget = &bench.Target{Op: "<=", Value: 1.5}
	warmTarget     = &bench.Target{Op: "<", Value: 2}
)

// releaseRuns is what the release part measured, in the order it ran: floor cold, release
// cold, release with nothing changed (the first mage run on its own), floor warm.
type releaseRuns struct {
	floorBin, dist                                    string
	floorCold, relCold, mageFirst, relWarm, floorWarm time.Duration
	tlCold, tlWarm                                    *bench.Timeline
	errCold, errWarm, errFloorWarm                    error
}

// runReleases runs the four measurements in a clone of the commit; fail is the figure to
// report when it could not start (the clone, its identity, the cold floor).
func (c *config) runReleases(ctx context.Context) (runs *releaseRuns, fail *bench.Figure) {
	p := &bench.Pipeline{Source: c.dir, Work: c.work, GOROOT: c.goroot, Commit: c.commit, Pass: passEnv(), Log: os.Stderr}
	logf("copying %s", c.commit)
	if err := p.Copy(ctx); err != nil {
		f := errFigure("cold release / floor", "x", coldTarget, err)
		return nil, &f
	}
	info, err := source.Resolve(ctx, source.ExecGit, p.Tree(), os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		f := errFigure("cold release / floor", "x", coldTarget, err)
		return nil, &f
	}
	p.Version, p.Commit = info.Version, info.Commit
	runs = &releaseRuns{floorBin: filepath.Join(c.work, "floor-bin"), dist: filepath.Join(p.Tree(), "dist")}
	floorCache := filepath.Join(c.work, "gocache-floor")
	relCache := filepath.Join(c.work, "gocache-release")
	mageCache := filepath.Join(c.work, "mage")

	logf("floor, cold")
	if runs.floorCold, err = p.Floor(ctx, runs.floorBin, floorCache); err != nil {
		f := errFigure("floor: go build, cold", "s", nil, err)
		return nil, &f
	}
	logf("release, cold")
	runs.relCold, runs.tlCold, runs.errCold = p.Release(ctx, relCache, filepath.Join(c.work, "cache"), filepath.Join(c.work, "tools"))
	if runs.errCold == nil {
		logf("release, nothing changed, first go tool mage release (mage compiles itself)")
		if first, tl, err := p.Mage(ctx, relCache, mageCache, "release"); err != nil {
			runs.errWarm = fmt.Errorf("%w\n%s", err, tail(tl.Phases(0), 20))
		} else {
			runs.mageFirst = first
			logf("release, nothing changed: go tool mage release")
			runs.relWarm, runs.tlWarm, runs.errWarm = p.Mage(ctx, relCache, mageCache, "release")
		}
	}
	logf("floor, warm")
	runs.floorWarm, runs.errFloorWarm = p.Floor(ctx, filepath.Join(c.work, "floor-bin-warm"), floorCache)
	return runs, nil
}

// figures adds the times, the ratios against their targets, and what dist/ holds.
func (rr *releaseRuns) figures(s *bench.Section) {
	s.Add(bench.Figure{Name: "floor: go build, cold", Value: rr.floorCold.Seconds(), Unit: "s"})
	if rr.errCold != nil {
		s.Add(errFigure("release, cold", "s", nil, rr.errCold))
		s.Add(errFigure("cold release / floor", "x", coldTarget, rr.errCold))
	} else {
		ratio := bench.Ratio(rr.relCold.Seconds(), rr.floorCold.Seconds())
		s.Add(bench.Figure{Name: "release, cold", Value: rr.relCold.Seconds(), Unit: "s"})
		s.Add(bench.Figure{Name: "cold release / floor", Value: ratio, Unit: "x", Target: coldTarget})
		s.Add(bench.Figure{Name: "cold release / floor, newcomer's target", Value: ratio, Unit: "x", Target: newcomerTarget})
	}
	if rr.errFloorWarm != nil {
		s.Add(errFigure("floor: go build, warm", "s", nil, rr.errFloorWarm))
	} else {
		s.Add(bench.Figure{Name: "floor: go build, warm", Value: rr.floorWarm.Seconds(), Unit: "s"})
	}
	switch {
	case rr.errCold != nil:
		s.Add(errFigure("release, nothing changed (go tool mage release)", "s", warmTarget, rr.errCold))
	case rr.errWarm != nil:
		s.Add(errFigure("release, nothing changed (go tool mage release)", "s", warmTarget, rr.errWarm))
	default:
		s.Add(bench.Figure{Name: "first go tool mage release after it (mage compiles its binary into GOCACHE)", Value: rr.mageFirst.Seconds(), Unit: "s"})
		s.Add(bench.Figure{Name: "release, nothing changed (go tool mage release)", Value: rr.relWarm.Seconds(), Unit: "s", Target: warmTarget})
		if rr.errFloorWarm == nil {
			s.Add(bench.Figure{Name: "nothing-changed release / warm floor", Value: bench.Ratio(rr.relWarm.Seconds(), rr.floorWarm.Seconds()), Unit: "x"})
		}
		if !strings.Contains(rr.tlWarm.Text(), "is up to date") {
			s.Notef("The release with nothing changed did not find dist/ up to date: it rebuilt.")
		}
	}
	if rr.errCold != nil {
		return
	}
	if same, total, err := bench.SameFiles(rr.floorBin, filepath.Join(rr.dist, "bin")); err == nil {
		s.Add(bench.Figure{Name: "release binaries identical to the floor's", Value: float64(same), Unit: "", Note: fmt.Sprintf("of %d", total)})
	}
	if unique, apparent, err := bench.DiskUsage(rr.dist); err == nil {
		s.Add(bench.Figure{Name: "size of dist/ on disk (hard-linked blobs once)", Value: float64(unique), Unit: "B",
			Note: fmt.Sprintf("%s counting every path", bench.FormatValue(float64(apparent), "B"))})
	}
}

// phases adds where the cold release's time went, and both releases' timelines.
func (rr *releaseRuns) phases(s *bench.Section) {
	if rr.tlCold != nil && rr.errCold == nil {
		for _, ph := range rr.tlCold.ReleasePhases(rr.relCold) {
			f := bench.Figure{Name: "cold release: " + ph.Name, Value: ph.Duration.Seconds(), Unit: "s"}
			if strings.HasPrefix(ph.Name, "go builds") {
				f.Note = fmt.Sprintf("%.2fx the floor's %.1f s", ph.Duration.Seconds()/rr.floorCold.Seconds(), rr.floorCold.Seconds())
			}
			s.Add(f)
		}
		s.Add(bench.Figure{Name: "cold release beyond the floor", Value: (rr.relCold - rr.floorCold).Seconds(), Unit: "s",
			Note: fmt.Sprintf("the 1.15x target allows %.1f s", 0.15*rr.floorCold.Seconds())})
	}
	if rr.errCold == nil && rr.relCold.Seconds() > 1.15*rr.floorCold.Seconds() {
		s.Notef("Why the cold release misses: the phases beyond the go builds are in the table. The largest are usually compiling cairn-release itself into the empty GOCACHE (go-containerregistry and the release packages; the standard library and the shared modules are compiled once for it and the linux/amd64 builds, both with -trimpath) and the archives and .debs (written in Go as goreleaser writes them: tar.gz at gzip's best compression, byte for byte goreleaser's, over about 200 MB of binaries, the four files side by side). The go builds themselves are the floor's work, done the same way.")
	}
	if rr.tlCold != nil {
		s.Notef("Where the cold release's time goes (arrival of each output line, and the time since the previous one; before the first line: compiling cairn-release with `go run`):\n%s", tail(rr.tlCold.Phases(rr.relCold), 60))
	}
	if rr.tlWarm != nil {
		s.Notef("Where the release with nothing changed spends its time (before the line: go tool mage starting, mage compiling its binary from the warm GOCACHE, git, hashing the module tree and every dist/ file):\n%s", tail(rr.tlWarm.Phases(rr.relWarm), 60))
	}
}
