package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
)

// Mode says how far a run goes.
type Mode int

// Modes, each including the previous one.
const (
	// ModeBuild writes dist/bin and dist/release.json (without images).
	ModeBuild Mode = iota
	// ModeImages adds dist/oci, dist/archives and the images in release.json.
	ModeImages
	// ModeRelease adds the lock check first and the Steps (signing, attestations,
	// archives and packages) after the images.
	ModeRelease
)

// Options are a release's inputs, all resolved at the edge (release/cmd/cairn-release or a
// test) and passed in as values.
type Options struct {
	Mode      Mode
	ModuleDir string // the module to release (absolute)
	DistDir   string // default ModuleDir/dist
	Services  []record.Service
	Lock      *lock.Lock // may be nil for a fixture module: then Compressor must be set
	GOROOT    string     // pinned toolchain root
	Toolchain string     // its version, e.g. "go1.26.8" (recorded)
	Version   string
	Commit    string
	Dirty     bool
	Epoch     time.Time
	// RequireClean refuses a dirty tree (CAIRN_REQUIRE_CLEAN=1, -require-clean; CI on tags).
	RequireClean bool
	// Source is the repository URL of the source annotation.
	Source string
	// Compressor overrides the lock's compressor (tests); zero means the lock's.
	Compressor images.Compressor
	// Cache stores compressed layers between runs, by images.LayerKey (the binary's
	// SHA-256, the file list, the epoch and the compressor); nil compresses every time.
	Cache images.Cache
	// BinaryCache stores linked binaries between runs, by a key over the toolchain, the
	// environment, the arguments, go.mod/go.sum and the compiled archive of every linked
	// package (`go list -export`, see build.Cache); nil links every time. Both caches are
	// content-addressed by their inputs, so a rerun with nothing changed neither links nor
	// compresses; verify's rebuild runs with neither, so a poisoned cache cannot pass
	// verification.
	BinaryCache build.Cache
	// Pass is the passthrough environment of the go builds (goenv.Pick).
	Pass []string
	// GoBuild replaces `go build` (tests); nil runs the toolchain.
	GoBuild build.Runner
	// CheckLock runs first in ModeRelease (lock.Check); nil skips it.
	CheckLock func(ctx context.Context, moduleDir string) error
	// Steps run in ModeRelease, in order, after release.json is written and before the swap
	// (signing, attestations, archives and packages: release/cmd/cairn-release/steps.go).
	Steps []record.Step
	// Repository prefixes the docker-archive tags: <Repository>/<svc>:<version>.
	Repository string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// ExtraInputs are files outside the module tree the output depends on (the signing key):
	// hashed into the inputs digest (see InputsFile); a missing one counts as absent.
	ExtraInputs []string
	// Force releases even when dist/ is up to date (UpToDate).
	Force bool
	// afterStage is a test hook run just before the swap.
	afterStage func(staging string)
}

// Run performs a release into a staging directory next to DistDir and swaps it in as
// DistDir at the end. On any error DistDir is left as it was. In order, it:
//
//  1. refuses a dirty tree if RequireClean;
//  2. unless Force, returns the record of DistDir if DistDir is up to date (UpToDate),
//     removing what killed releases left;
//  3. in ModeRelease, checks the lock (CheckLock);
//  4. takes the release lock, .dist.lock next to dist/: a second release in the same tree
//     waits for the first and says so;
//  5. creates the staging directory, dist.staging-* next to dist/ (removing those of
//     killed releases);
//  6. builds every service for linux/amd64 and linux/arm/v7 (build.Targets) with package
//     build: the exact command and environment of a release;
//  7. in ModeImages and up, assembles one multi-arch OCI index per service (package images)
//     and writes the layout and the archives;
//  8. writes release.json;
//  9. in ModeRelease, runs the Steps;
//  10. writes inputs.json (record.InputsFile), unless the module tree changed while the
//     release ran;
//  11. swaps the staging directory in as dist/ in one renameat2(RENAME_EXCHANGE), keeping
//     the old dist/bench (record.BenchDir).
//
// A killed release leaves the previous dist/ (plus a dist.staging-* directory that the next
// release removes), never a dist/ that looks complete but is not. dist/ then holds:
//
//	bin/linux_amd64/<svc>, bin/linux_arm_v7/<svc>   the static binaries
//	oci/                                            one OCI layout: every index, named by
//	                                                org.opencontainers.image.ref.name = <svc>
//	archives/<svc>.oci.tar                          oci-archive (the index, both platforms)
//	archives/<svc>_linux_amd64.docker.tar,
//	archives/<svc>_linux_arm_v7.docker.tar          docker-archive (single platform), tagged
//	                                                <Repository>/<svc>:<Version>
//	release.json                                    the record (package record), canonical JSON
//	inputs.json                                     the fingerprint (record.InputsFile)
//
// ModeBuild writes only bin/, release.json and inputs.json. ModeRelease adds what the steps
// write: cosign/<svc>, attestations/<svc> and bundles/<svc> (package signstep), packages/
// (package packages).
func Run(ctx context.Context, o Options) (*record.Release, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(o.Log, format+"\n", args...) }
	if o.Dirty {
		logf("release %s: the work tree is DIRTY (tracked files differ from %s)", o.Version, o.Commit)
		if o.RequireClean {
			return nil, fmt.Errorf("the work tree is dirty (version %s) and a clean tree is required (CAIRN_REQUIRE_CLEAN=1); commit or stash the changes, or unset CAIRN_REQUIRE_CLEAN", o.Version)
		}
	}
	treeBefore, err := o.treeDigest()
	if err != nil {
		return nil, err
	}
	if !o.Force {
		f, err := o.upToDate(treeBefore)
		if err != nil {
			return nil, err
		}
		if f.Fresh {
			logf("%s", f.Summary(o.Version, o.Commit, o.DistDir))
			return f.Record, tidyStaging(o.DistDir)
		}
		logf("release %s: %s", o.Version, f.Reason)
	}
	if o.Mode >= ModeRelease && o.CheckLock != nil {
		logf("checking lock/ against reality")
		if err := o.CheckLock(ctx, o.ModuleDir); err != nil {
			return nil, fmt.Errorf("checking the lock: %w", err)
		}
	}
	unlock, err := lockDist(o.DistDir, func(msg string) { logf("%s", msg) })
	if err != nil {
		return nil, err
	}
	defer unlock()
	staging, err := newStaging(o.DistDir)
	if err != nil {
		return nil, err
	}
	swapped := false
	defer func() {
		if !swapped {
			os.RemoveAll(staging)
		}
	}()

	rec, idxs, err := o.stage(ctx, staging, logf)
	if err != nil {
		return nil, err
	}
	if o.Mode >= ModeRelease {
		st := &record.Stage{
			Dir: staging, Record: rec, Indexes: idxs, ModuleDir: o.ModuleDir, Lock: o.Lock,
			GOROOT: o.GOROOT, Epoch: o.Epoch, Version: o.Version, Commit: o.Commit,
			Services: o.Services, Log: o.Log,
		}
		for i, step := range o.Steps {
			if err := step(ctx, st); err != nil {
				return nil, fmt.Errorf("release step %d: %w", i+1, err)
			}
		}
	}
	if err := o.fingerprint(staging, treeBefore, logf); err != nil {
		return nil, err
	}
	if o.afterStage != nil {
		o.afterStage(staging)
	}
	if err := swapIn(staging, o.DistDir); err != nil {
		return nil, err
	}
	swapped = true
	logf("release %s (%s) written to %s", o.Version, o.Commit, o.DistDir)
	return rec, nil
}

// fingerprint writes InputsFile into staging, unless the module tree changed while the
// release ran (then the output may mix two states, and the next release must not take it as
// up to date: it says so and writes none).
func (o *Options) fingerprint(staging, treeBefore string, logf func(string, ...any)) error {
	tree, err := o.treeDigest()
	if err != nil {
		return err
	}
	if tree != treeBefore {
		logf("release %s: the module tree changed while the release ran; %s not written, so the next release rebuilds", o.Version, record.InputsFile)
		return nil
	}
	digest, err := o.inputsDigest(tree)
	if err != nil {
		return err
	}
	return writeInputs(staging, digest)
}

func (o *Options) defaults() error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if !filepath.IsAbs(o.ModuleDir) {
		abs, err := filepath.Abs(o.ModuleDir)
		if err != nil {
			return fmt.Errorf("resolving module dir: %w", err)
		}
		o.ModuleDir = abs
	}
	if o.DistDir == "" {
		o.DistDir = filepath.Join(o.ModuleDir, "dist")
	}
	if !filepath.IsAbs(o.DistDir) {
		abs, err := filepath.Abs(o.DistDir)
		if err != nil {
			return fmt.Errorf("resolving dist dir: %w", err)
		}
		o.DistDir = abs
	}
	if o.Services == nil {
		o.Services = record.Services
	}
	if o.Source == "" {
		o.Source = record.DefaultSource
	}
	if o.Repository == "" {
		o.Repository = record.DefaultRepository
	}
	if o.Compressor == (images.Compressor{}) {
		if o.Lock == nil {
			return errors.New("no lock and no compressor given: want lock/lock.json (lock.Load) or an explicit compressor")
		}
		o.Compressor = images.Compressor{Module: o.Lock.Compressor.Module, Version: o.Lock.Compressor.Version, Level: o.Lock.Compressor.Level}
	}
	if v := linkedVersion(o.Compressor.Module); v != "" && v != o.Compressor.Version {
		return fmt.Errorf("the layer compressor %s linked into this program is %s, the lock says %s; run `go tool mage lock` after changing go.mod, or rebuild cairn-release", o.Compressor.Module, v, o.Compressor.Version)
	}
	if o.Epoch.IsZero() {
		return errors.New("no epoch given: want SOURCE_DATE_EPOCH or HEAD's commit time (source.Resolve)")
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Second)
	if o.Version == "" || o.Commit == "" {
		return fmt.Errorf("version %q, commit %q: want both (source.Resolve)", o.Version, o.Commit)
	}
	if o.Toolchain == "" && o.Lock != nil {
		o.Toolchain = o.Lock.Go.Version
	}
	seen := map[string]bool{}
	for _, s := range o.Services {
		if seen[s.Name] {
			return fmt.Errorf("service %s listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// linkedVersion is the version of module linked into this program, "" if unknown (tests).
func linkedVersion(module string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// stage builds and assembles everything below staging.
func (o *Options) stage(ctx context.Context, staging string, logf func(string, ...any)) (*record.Release, map[string]v1.ImageIndex, error) {
	rec := &record.Release{
		Commit:     o.Commit,
		Compressor: record.Compressor{Level: o.Compressor.Level, Module: o.Compressor.Module, Version: o.Compressor.Version},
		Created:    o.Epoch.Format(time.RFC3339),
		Dirty:      o.Dirty,
		Epoch:      o.Epoch.Unix(),
		Images:     []record.Image{},
		Schema:     record.Schema,
		Source:     o.Source,
		Toolchain:  o.Toolchain,
		Version:    o.Version,
	}
	pkgs := make([]build.Package, len(o.Services))
	for i, s := range o.Services {
		pkgs[i] = build.Package{Name: s.Name, Path: s.Package}
	}
	logf("building %d services for %d platforms with %s", len(pkgs), len(build.Targets), o.GOROOT)
	bins, err := build.Build(ctx, build.Options{
		GOROOT: o.GOROOT, ModuleDir: o.ModuleDir, OutDir: filepath.Join(staging, "bin"),
		Version: o.Version, Commit: o.Commit, Packages: pkgs, Pass: o.Pass, Run: o.GoBuild,
		Cache: o.BinaryCache, Logf: logf,
	})
	if err != nil {
		return nil, nil, err
	}
	idxs := map[string]v1.ImageIndex{}
	if o.Mode >= ModeImages {
		byName := map[string][]build.Binary{}
		for _, b := range bins {
			byName[b.Name] = append(byName[b.Name], b)
		}
		var named []namedIndex
		if err := os.MkdirAll(filepath.Join(staging, "archives"), 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating archives dir: %w", err)
		}
		for _, s := range o.Services {
			ir, idx, err := o.image(s, byName[s.Name], staging)
			if err != nil {
				return nil, nil, fmt.Errorf("image %s: %w", s.Name, err)
			}
			idxs[s.Name] = idx
			named = append(named, namedIndex{Name: s.Name, Index: idx})
			rec.Images = append(rec.Images, ir)
			logf("image %s %s", s.Name, ir.Index)
		}
		files, err := layoutFiles(named)
		if err != nil {
			return nil, nil, fmt.Errorf("assembling dist/oci: %w", err)
		}
		if err := writeTree(filepath.Join(staging, "oci"), files); err != nil {
			return nil, nil, err
		}
	}
	b, err := rec.Marshal()
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(staging, record.File), b, 0o644); err != nil {
		return nil, nil, fmt.Errorf("writing release record: %w", err)
	}
	return rec, idxs, nil
}

// image assembles one service's index, writes its archives, and returns its record.
func (o *Options) image(s record.Service, bins []build.Binary, staging string) (record.Image, v1.ImageIndex, error) {
	ir := record.Image{Name: s.Name, Service: s, Platforms: []record.Platform{}}
	var ib []images.Binary
	for _, b := range bins {
		data, err := os.ReadFile(b.Path)
		if err != nil {
			return ir, nil, fmt.Errorf("reading binary: %w", err)
		}
		ib = append(ib, images.Binary{Platform: images.Platform(b.Platform), Data: data})
	}
	opts := []images.Option{images.WithCompressor(o.Compressor)}
	if o.Cache != nil {
		opts = append(opts, images.WithCache(o.Cache))
	}
	idx, err := images.Index(o.spec(s), ib, o.Epoch, opts...)
	if err != nil {
		return ir, nil, err
	}
	d, _ := idx.Digest()
	ir.Index = d.String()
	im, err := idx.IndexManifest()
	if err != nil {
		return ir, nil, err
	}
	for i, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return ir, nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return ir, nil, err
		}
		pr := record.Platform{
			Platform: bins[i].Platform.String(),
			Manifest: desc.Digest.String(),
			Config:   m.Config.Digest.String(),
			Binary: record.Binary{
				Path:   filepath.ToSlash(filepath.Join("bin", bins[i].Platform.Dir(), s.Name)),
				SHA256: bins[i].SHA256,
			},
		}
		for _, l := range m.Layers {
			pr.Layers = append(pr.Layers, l.Digest.String())
		}
		ir.Platforms = append(ir.Platforms, pr)
		da, err := dockerArchive(o.Repository+"/"+s.Name, o.Version, img, o.Epoch)
		if err != nil {
			return ir, nil, err
		}
		p := filepath.Join(staging, "archives", fmt.Sprintf("%s_%s.docker.tar", s.Name, bins[i].Platform.Dir()))
		if err := os.WriteFile(p, da, 0o644); err != nil {
			return ir, nil, fmt.Errorf("writing %s: %w", p, err)
		}
	}
	oa, err := ociArchive(namedIndex{Name: s.Name, Index: idx}, o.Epoch)
	if err != nil {
		return ir, nil, err
	}
	p := filepath.Join(staging, "archives", s.Name+".oci.tar")
	if err := os.WriteFile(p, oa, 0o644); err != nil {
		return ir, nil, fmt.Errorf("writing %s: %w", p, err)
	}
	return ir, idx, nil
}

// spec is the image spec (package images) of a service's index in this release.
func (o *Options) spec(s record.Service) images.Spec {
	return images.Spec{
		Name:     s.Name,
		Ports:    s.Ports,
		DataDirs: s.DataDirs,
		Source:   o.Source,
		Revision: o.Commit,
		Version:  o.Version,
	}
}
