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
