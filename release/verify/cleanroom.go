package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/source"
)

// Rebuild rebuilds the release described by rec from the module copy at moduleDir into
// dist. CleanRoom calls it inside the clean room; Run passes SelfRebuild's.
type Rebuild func(ctx context.Context, moduleDir, dist string, rec *record.Release) error

// CleanRoom copies the module at moduleDir to work/src (its input files, source.Files:
// without dist/, .git and the local key store), rebuilds the release rec (dist's
// release.json) there into work/dist, and compares the two with Compare. Run's rebuild is
// SelfRebuild's: a fresh HOME and GOCACHE, another time zone and locale, and Noise, so that
// nothing of the host's setup can reach the build unnoticed.
func CleanRoom(ctx context.Context, moduleDir, dist, work string, rec *record.Release, rebuild Rebuild) (*record.Report, error) {
	src := filepath.Join(work, "src")
	if err := copyTree(moduleDir, src, dist); err != nil {
		return nil, fmt.Errorf("copying the module to the clean room: %w", err)
	}
	out := filepath.Join(work, "dist")
	if err := rebuild(ctx, src, out, rec); err != nil {
		return nil, fmt.Errorf("rebuilding in the clean room: %w", err)
	}
	return Compare(dist, out)
}

// copyTree copies the module's input files (source.Files) of src to dst: the regular files,
// with their executable bit, under the clean room's umask. Symlinks are not copied: a link
// could reach outside the clean room.
func copyTree(src, dst, dist string) error {
	files, err := source.Files(src, dist)
	if err != nil {
		return err
	}
	for _, f := range files {
		if !f.Regular() {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(f.Rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f.Rel)))
		if err != nil {
			return err
		}
		mode := os.FileMode(0o666)
		if f.Kind == "exec" {
			mode = 0o777
		}
		if err := os.WriteFile(target, b, mode); err != nil {
			return err
		}
	}
	return nil
}

// Noise is the clean room's environment beyond HOME and GOCACHE: another time zone and
// locale, and variables that would change a build if anything leaked them through.
var Noise = []string{
	"TZ=Pacific/Chatham",
	"LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8",
	"GOFLAGS=-mod=mod -race", "GOEXPERIMENT=loopvar", "GODEBUG=gotypesalias=0",
	"CGO_ENABLED=1", "GOAMD64=v3", "GOARM=6", "CC=false", "CXX=false",
	"SOURCE_DATE_EPOCH=1", "GOTOOLCHAIN=go1.21.0", "CAIRN_NOISE=1",
}

// SelfRebuild is the clean room's Rebuild by cairn-release itself: Exe (the running
// cairn-release) run again with -mode images on the copy of the module, in Work, with the
// recorded version, commit, epoch, dirtiness and services, a fresh GOCACHE and HOME, umask
// 077, no cache (-cache none) and no lock check (the tree is the one just checked). Its
// environment is HOME, GOCACHE, PATH, GOMODCACHE, GOPROXY=off and Noise, nothing else of the
// host's. The module cache is shared with the host: its contents are checked against go.sum,
// and a fresh one would need the network.
type SelfRebuild struct {
	Exe, Work, GOROOT, ModuleDir string
	// LockFile is the lock of ModuleDir, or "none" for a fixture module.
	LockFile string
	// ModCache is the host's module cache (GOMODCACHE).
	ModCache string
	// Path is the host's PATH.
	Path string
	// Log receives the rebuild's output.
	Log io.Writer
}

// Rebuild is a Rebuild.
func (s SelfRebuild) Rebuild(ctx context.Context, moduleDir, dist string, rec *record.Release) error {
	svc := make([]record.Service, len(rec.Images))
	for i, im := range rec.Images {
		svc[i] = im.Service
	}
	b, _ := json.Marshal(svc)
	svcFile := filepath.Join(s.Work, "services.json")
	if err := os.WriteFile(svcFile, b, 0o644); err != nil {
		return err
	}
	home := filepath.Join(s.Work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	lockArg := s.LockFile
	if lockArg != "none" {
		// The lock of the copied tree, not of the original.
		rel, err := filepath.Rel(s.ModuleDir, lockArg)
		if err == nil && !strings.HasPrefix(rel, "..") {
			lockArg = filepath.Join(moduleDir, rel)
		}
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `umask 077; exec "$0" "$@"`, s.Exe,
		"-C", moduleDir, "-dist", dist, "-mode", "images", "-goroot", s.GOROOT, "-lock", lockArg,
		"-version", rec.Version, "-commit", rec.Commit, "-epoch", strconv.FormatInt(rec.Epoch, 10),
		"-dirty="+strconv.FormatBool(rec.Dirty), "-services", svcFile, "-cache", "none", "-no-lock-check")
	cmd.Dir = moduleDir
	cmd.Env = append([]string{
		"HOME=" + home,
		"GOCACHE=" + filepath.Join(s.Work, "gocache"),
		"PATH=" + s.Path,
		"GOMODCACHE=" + s.ModCache,
		"GOPROXY=off",
	}, Noise...)
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	fmt.Fprintf(s.Log, "verify: rebuilding %s (%s) in the clean room %s\n", rec.Version, rec.Commit, s.Work)
	return cmd.Run()
}
