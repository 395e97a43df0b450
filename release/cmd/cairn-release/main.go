// Command cairn-release is the release pipeline's entry point: it builds Cairn's services,
// assembles their images, signs and packages them into dist/ (package release), and checks a
// dist/ against its sources (package release/verify). It is the edge: it reads the
// environment and git once and passes values down.
//
// `go tool mage release` (and build, images, verify) run it as `<pinned go> run
// ./release/cmd/cairn-release -goroot <pinned>`, not inside the mage process: mage is
// compiled by whatever Go the host has, and the assembler's output depends on the code linked
// into it (encoding/json, archive/tar, the gzip compressor). Compiled by the pinned toolchain,
// "two releases of one commit are identical whatever Go version the host has" holds for the
// images as well as the binaries. go run caches the linked executable (Go 1.24+), so this
// costs nothing on a rerun; nix runs the same command offline (nix/build.sh).
//
// Usage:
//
//	cairn-release [flags]          build, assemble and (with -mode release) sign and package
//	                               into dist/ (release.Run)
//	cairn-release verify [flags]   rebuild dist/ in a clean room and compare bit for bit, then
//	                               audit the evidence beside the images (verify.Run)
//
// Flags (both):
//
//	-C dir            module to release (default .)
//	-dist dir         output directory (default <C>/dist)
//	-goroot dir       pinned toolchain root (default: lock.Toolchain, the go1.26.8 of the lock,
//	                  fetched and checked on first use); given, its VERSION must be the lock's,
//	                  and the release's lock check does not hash its tree a second time
//	-lock file        lock file (default <C>/lock/lock.json); "none" for a fixture module:
//	                  then -goroot is required, the compressor is images.DefaultCompressor and
//	                  there is no lock check
//
// Flags (release):
//
//	-mode m           build | images | release (default release): release.ModeBuild writes
//	                  dist/bin and release.json, ModeImages adds the images and archives,
//	                  ModeRelease adds the lock check first and the steps (signing,
//	                  attestations, archives and packages; see steps.go)
//	-version v, -commit c, -epoch n
//	                  the sources' identity, all three or none; by default from git (`describe
//	                  --tags --always --dirty --abbrev=12`, HEAD) and SOURCE_DATE_EPOCH, else
//	                  HEAD's commit time (package source). -epoch alone overrides the epoch
//	-dirty            with -version and -commit: record the tree as dirty
//	-require-clean    refuse a dirty tree (default true if CAIRN_REQUIRE_CLEAN=1)
//	-services file    JSON list of record.Service, {name, package, ports, data_dirs}
//	                  (default: record.Services)
//	-cache dir        layer and binary cache: <dir>/layers, <dir>/bin (default <user
//	                  cache>/cairn; "none" disables; verify's rebuild always uses none)
//	-tool-cache dir   the modules' nix hash by go.mod and go.sum (<dir>/nixhash), for the lock
//	                  check: derived from pinned inputs only, like the module cache (default
//	                  <user cache>/cairn; "none": the lock check computes it every time)
//	-no-lock-check    skip lock.Check in -mode release
//	-force            release even when dist/ is up to date (default true if CAIRN_FORCE=1):
//	                  without it, a dist/ whose inputs.json names the same inputs digest and
//	                  whose files all still hash as recorded is left as it is (release.UpToDate)
//
// Flags (verify):
//
//	-json file        also write the report as JSON (default <dist>.verify.json)
//	-vsa-key file     sign a rebuild verdict (SLSA VSA v1, package vsa) for each image rebuilt
//	                  bit for bit with this cosign private key (default $CAIRN_VSA_KEY); a
//	                  dirty release gets none
//	-vsa-out dir      where the verdicts go: <svc>.intoto.json and <svc>.sigstore.json
//	                  (default <dist>.vsa)
//	-verifier-id uri  the verdicts' verifier id (default vsa.DefaultVerifierID,
//	                  https://github.com/cairn-iot/cairn/release/cmd/cairn-release/verify)
//
// Environment. The release reads SOURCE_DATE_EPOCH, CAIRN_REQUIRE_CLEAN and CAIRN_FORCE (see
// the flags); in -mode release COSIGN_KEY and COSIGN_PASSWORD, the signing key (without
// COSIGN_KEY, the development key pair in <C>/.cairn/keys, created on first use), whose file
// is an input of the up-to-date check. git runs with the environment as it is (the
// changelog's with PATH and HOME only); the go builds see only the passthrough list
// goenv.Passthrough (PATH, HOME, GOCACHE, GOMODCACHE, the proxy and sum database variables).
// The default caches are under os.UserCacheDir (on Linux XDG_CACHE_HOME, else HOME/.cache).
// Without -goroot, lock.Toolchain fetches the pinned toolchain on first use with the go on
// PATH (`go mod download`, with lock.Passthrough: the proxy and cache variables, GOPATH).
// verify reads COSIGN_PUBLIC_KEY, else
// COSIGN_KEY (with COSIGN_PASSWORD), else <C>/.cairn/keys/cosign.pub for the release's public
// key (verify.PublicKey); CAIRN_VSA_KEY and CAIRN_VSA_PASSWORD for the verdicts; and PATH,
// GOMODCACHE (else GOPATH/pkg/mod, else HOME/go/pkg/mod) for the clean room, which shares the
// host's module cache and sees no other variable of the host (verify.SelfRebuild).
//
// Output. The release writes dist/ as release.Run describes, through a staging directory
// dist.staging-* and the lock file .dist.lock beside it; the caches; and the pinned
// toolchain, unpacked on first use into <user cache>/cairn/toolchain (lock.Toolchain).
// Progress goes to standard error. verify rebuilds in a temporary directory (removed after),
// prints the report on standard output (one PASS, FAIL or SKIP line per check, then PASS or
// FAIL; a dist/ without dist/cosign gives "SKIP cosign"), and writes the JSON report and the
// verdicts; the rebuild's output goes to standard error.
//
// Exit status: 0 on success (verify: PASS), 1 on failure (verify: FAIL, or an error that kept
// it from running), 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/release/source"
	"github.com/cairn-iot/cairn/release/verify"
	"github.com/cairn-iot/cairn/release/vsa"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "cairn-release:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "cairn-release:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

type common struct {
	dir, dist, goroot, lockFile string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "C", ".", "module to release")
	fs.StringVar(&c.dist, "dist", "", "output directory (default <C>/dist)")
	fs.StringVar(&c.goroot, "goroot", "", "pinned toolchain root (default: from the lock)")
	fs.StringVar(&c.lockFile, "lock", "", `lock file (default <C>/lock/lock.json; "none" for a fixture module)`)
}

// resolve makes the paths absolute and loads the lock.
func (c *common) resolve() (*lock.Lock, error) {
	var err error
	if c.dir, err = filepath.Abs(c.dir); err != nil {
		return nil, err
	}
	if c.dist == "" {
		c.dist = filepath.Join(c.dir, "dist")
	}
	if c.dist, err = filepath.Abs(c.dist); err != nil {
		return nil, err
	}
	if c.lockFile == "none" {
		return nil, nil
	}
	if c.lockFile == "" {
		c.lockFile = filepath.Join(c.dir, filepath.FromSlash(lock.File))
	}
	return lock.Load(c.lockFile)
}

// toolchain returns the pinned GOROOT and its version.
func (c *common) toolchain(ctx context.Context, l *lock.Lock) (string, string, error) {
	goroot := c.goroot
	if goroot == "" {
		if l == nil {
			return "", "", usageError{errors.New("-lock none needs -goroot (the toolchain to build with)")}
		}
		var err error
		if goroot, err = pinnedToolchain(ctx, l); err != nil {
			return "", "", err
		}
	}
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", "", fmt.Errorf("reading the toolchain version: %w (want -goroot to be a Go root)", err)
	}
	v, _, _ := strings.Cut(string(b), "\n")
	if l != nil && v != l.Go.Version {
		return "", "", fmt.Errorf("the toolchain at %s is %s, the lock pins %s; pass the pinned one with -goroot or let lock.Toolchain fetch it", goroot, v, l.Go.Version)
	}
	return goroot, v, nil
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "verify" {
		return runVerify(ctx, args[1:])
	}
	fs := flag.NewFlagSet("cairn-release", flag.ContinueOnError)
	var c common
	c.register(fs)
	var f releaseFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	build.ReportEnvironment(os.Stderr, "cairn-release") // the tests compare it across rebuilders
	o := release.Options{Log: os.Stderr, Pass: goenv.Pick(os.LookupEnv), RequireClean: f.requireClean, Force: f.force}
	var ok bool
	if o.Mode, ok = modes[f.mode]; !ok {
		return usageError{fmt.Errorf("-mode %q: want build, images or release", f.mode)}
	}
	l, err := c.resolve()
	if err != nil {
		return err
	}
	o.ModuleDir, o.DistDir, o.Lock = c.dir, c.dist, l
	if l == nil {
		o.Compressor = images.DefaultCompressor
	}
	if o.GOROOT, o.Toolchain, err = c.toolchain(ctx, l); err != nil {
		return err
	}
	if err := f.identity(ctx, c.dir, &o); err != nil {
		return err
	}
	if f.servicesFile != "" {
		if o.Services, err = readServices(f.servicesFile); err != nil {
			return err
		}
	}
	f.caches(&o)
	if !f.noLockCheck && l != nil {
		o.CheckLock = lockChecker(f.toolCache, c.goroot != "")
	}
	if o.Mode == release.ModeRelease {
		if o.Steps, err = steps(os.Getenv); err != nil {
			return err
		}
		o.ExtraInputs = signstep.KeysFromEnv(os.Getenv).Files(o.ModuleDir)
	}
	_, err = release.Run(ctx, o)
	return err
}

var modes = map[string]release.Mode{"build": release.ModeBuild, "images": release.ModeImages, "release": release.ModeRelease}

// releaseFlags are the flags of a release beyond the common ones.
type releaseFlags struct {
	mode, version, commit, servicesFile, cacheDir, toolCache string
	epoch                                                    int64
	dirty, requireClean, noLockCheck, force                  bool
}

func (f *releaseFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mode, "mode", "release", "build | images | release")
	fs.StringVar(&f.version, "version", "", "release version (default: git describe)")
	fs.StringVar(&f.commit, "commit", "", "source commit (default: HEAD)")
	fs.Int64Var(&f.epoch, "epoch", 0, "source date epoch in seconds (default: SOURCE_DATE_EPOCH, else HEAD's commit time)")
	fs.BoolVar(&f.dirty, "dirty", false, "with -version/-commit: record the tree as dirty")
	fs.BoolVar(&f.requireClean, "require-clean", os.Getenv("CAIRN_REQUIRE_CLEAN") == "1", "refuse a dirty tree (CAIRN_REQUIRE_CLEAN=1)")
	fs.StringVar(&f.servicesFile, "services", "", "JSON list of services (default: record.Services)")
	fs.StringVar(&f.cacheDir, "cache", "", `layer and binary cache directory ("none" disables)`)
	fs.StringVar(&f.toolCache, "tool-cache", "", `nix hash cache directory ("none" disables)`)
	fs.BoolVar(&f.noLockCheck, "no-lock-check", false, "skip lock.Check")
	fs.BoolVar(&f.force, "force", os.Getenv("CAIRN_FORCE") == "1", "release even if dist/ is up to date (also CAIRN_FORCE=1)")
}

// identity sets the release's version, commit, dirtiness and epoch: from the flags, which
// go together, or from git (source.Resolve) with -epoch overriding the epoch.
func (f *releaseFlags) identity(ctx context.Context, dir string, o *release.Options) error {
	if f.version != "" || f.commit != "" {
		if f.version == "" || f.commit == "" || f.epoch <= 0 {
			return usageError{errors.New("-version, -commit and -epoch go together")}
		}
		o.Version, o.Commit, o.Dirty, o.Epoch = f.version, f.commit, f.dirty, time.Unix(f.epoch, 0).UTC()
		return nil
	}
	info, err := source.Resolve(ctx, source.ExecGit, dir, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	o.Version, o.Commit, o.Dirty, o.Epoch = info.Version, info.Commit, info.Dirty, info.Epoch
	if f.epoch > 0 {
		o.Epoch = time.Unix(f.epoch, 0).UTC()
	}
	return nil
}

// caches resolves -cache and -tool-cache (default <user cache>/cairn) and sets the layer
// and binary caches unless -cache is "none".
func (f *releaseFlags) caches(o *release.Options) {
	for _, dir := range []*string{&f.cacheDir, &f.toolCache} {
		if *dir == "" {
			if d, err := os.UserCacheDir(); err == nil {
				*dir = filepath.Join(d, "cairn")
			}
		}
	}
	if f.cacheDir != "" && f.cacheDir != "none" {
		// Content-addressed by their inputs; verify always runs with -cache none.
		o.Cache = release.DiskCache{Dir: filepath.Join(f.cacheDir, "layers")}
		o.BinaryCache = build.DirCache{Dir: filepath.Join(f.cacheDir, "bin")}
	}
}

// readServices reads a -services file: a JSON list of record.Service.
func readServices(file string) ([]record.Service, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading services: %w", err)
	}
	var svc []record.Service
	if err := json.Unmarshal(b, &svc); err != nil {
		return nil, fmt.Errorf("decoding services %s: %w (want a JSON list of {name, package, ports, data_dirs})", file, err)
	}
	return svc, nil
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cairn-release verify", flag.ContinueOnError)
	var c common
	c.register(fs)
	o := verify.Options{Getenv: os.Getenv, Log: os.Stderr}
	fs.StringVar(&o.JSONOut, "json", "", "write the report as JSON here (default <dist>.verify.json)")
	fs.StringVar(&o.VSAKey, "vsa-key", os.Getenv("CAIRN_VSA_KEY"), "sign a rebuild verdict (SLSA VSA) per image rebuilt bit for bit with this cosign key (also CAIRN_VSA_KEY)")
	fs.StringVar(&o.VSAOut, "vsa-out", "", "where the verdicts go (default <dist>.vsa)")
	fs.StringVar(&o.VerifierID, "verifier-id", "", "the verdicts' verifier id (default "+vsa.DefaultVerifierID+")")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	l, err := c.resolve()
	if err != nil {
		return err
	}
	goroot, _, err := c.toolchain(ctx, l)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cairn-release itself: %w", err)
	}
	o.ModuleDir, o.DistDir = c.dir, c.dist
	if o.JSONOut == "" {
		o.JSONOut = c.dist + ".verify.json"
	}
	o.Rebuilder = verify.SelfRebuild{Exe: self, GOROOT: goroot, ModuleDir: c.dir, LockFile: c.lockFile,
		ModCache: gomodcache(), Path: os.Getenv("PATH")}
	if l == nil {
		o.Rebuilder.LockFile = "none"
	}
	rep, err := verify.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Print(rep.Text())
	if !rep.Pass {
		return fmt.Errorf("verify FAILED: the rebuild or the evidence beside the images differs from %s (report: %s)", c.dist, o.JSONOut)
	}
	return nil
}

// gomodcache is the module cache of this process's environment.
func gomodcache() string {
	if v := os.Getenv("GOMODCACHE"); v != "" {
		return v
	}
	if v := os.Getenv("GOPATH"); v != "" {
		return filepath.Join(filepath.SplitList(v)[0], "pkg", "mod")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "pkg", "mod")
}
