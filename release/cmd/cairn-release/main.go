// Command cairn-release is the release pipeline's entry point: `go tool mage release` (and
// build, images, verify) run it as `<pinned go> run ./release/cmd/cairn-release`, so the
// assembler itself is compiled by the pinned toolchain whatever Go the host has, and nix runs
// the same command offline. It is the edge: it reads the environment and git once and passes
// values down to package release.
//
// Usage:
//
//	cairn-release [flags]          build, assemble and (with -mode release) sign into dist/
//	cairn-release verify [flags]   rebuild dist/ in a clean room and compare bit for bit,
//	                               then audit dist/cosign and dist/attestations with the
//	                               release's public key (COSIGN_PUBLIC_KEY, else the public
//	                               half of COSIGN_KEY, else <C>/.cairn/keys/cosign.pub; see
//	                               package release/evidence); unsigned: "SKIP cosign"
//
// Flags (both):
//
//	-C dir            module to release (default .)
//	-dist dir         output directory (default <C>/dist)
//	-goroot dir       pinned toolchain root (default: lock.Toolchain, the go1.26.8 of the lock);
//	                  given, it must be what lock.Toolchain returned (its VERSION is checked,
//	                  its tree is not re-hashed by the release's lock check)
//	-lock file        lock file (default <C>/lock/lock.json; "none" for a fixture module)
//
// Flags (release):
//
//	-mode m           build | images | release (default release)
//	-version v, -commit c, -epoch n, -dirty
//	                  the sources' identity; default from git (describe --tags --always
//	                  --dirty, HEAD) and SOURCE_DATE_EPOCH or HEAD's commit time
//	-require-clean    refuse a dirty tree (also CAIRN_REQUIRE_CLEAN=1)
//	-services file    JSON list of release.Service (default: release.Services)
//	-cache dir        layer and binary cache: <dir>/layers, <dir>/bin (default <user
//	                  cache>/cairn; "none" disables; verify's rebuild always uses none)
//	-tool-cache dir   the modules' nix hash by go.mod and go.sum (<dir>/nixhash): derived
//	                  from pinned inputs only, like the module cache (default <user
//	                  cache>/cairn; "none": the lock check computes it every time)
//	-no-lock-check    skip lock.Check in -mode release
//	-force            release even when dist/ is up to date (also CAIRN_FORCE=1): without
//	                  it, a dist/ whose inputs.json names the same inputs digest and whose
//	                  files all still hash as recorded is left as it is (release.UpToDate)
//
// Flags (verify):
//
//	-json file        also write the report as JSON (default <dist>.verify.json)
//	-vsa-key file     sign a rebuild verdict (SLSA VSA v1, package vsa) per image rebuilt bit
//	                  for bit with this cosign key (also CAIRN_VSA_KEY; its password in
//	                  CAIRN_VSA_PASSWORD) into -vsa-out (default <dist>.vsa/<svc>.intoto.json)
//	-verifier-id uri  the verdicts' verifier id
//
// Exit status: 0 on success (verify: PASS), 1 on failure (verify: FAIL or error), 2 on usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/evidence"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/release/source"
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
		return verify(ctx, args[1:])
	}
	fs := flag.NewFlagSet("cairn-release", flag.ContinueOnError)
	var c common
	c.register(fs)
	mode := fs.String("mode", "release", "build | images | release")
	version := fs.String("version", "", "release version (default: git describe)")
	commit := fs.String("commit", "", "source commit (default: HEAD)")
	epoch := fs.Int64("epoch", 0, "source date epoch in seconds (default: SOURCE_DATE_EPOCH, else HEAD's commit time)")
	dirty := fs.Bool("dirty", false, "with -version/-commit: record the tree as dirty")
	requireClean := fs.Bool("require-clean", os.Getenv("CAIRN_REQUIRE_CLEAN") == "1", "refuse a dirty tree (CAIRN_REQUIRE_CLEAN=1)")
	servicesFile := fs.String("services", "", "JSON list of services (default: release.Services)")
	cacheDir := fs.String("cache", "", `layer and binary cache directory ("none" disables)`)
	toolCache := fs.String("tool-cache", "", `nix hash cache directory ("none" disables)`)
	noLockCheck := fs.Bool("no-lock-check", false, "skip lock.Check")
	force := fs.Bool("force", os.Getenv("CAIRN_FORCE") == "1", "release even if dist/ is up to date (also CAIRN_FORCE=1)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	build.ReportEnvironment(os.Stderr, "cairn-release") // the tests compare it across rebuilders
	o := release.Options{Log: os.Stderr, Pass: goenv.Pick(os.LookupEnv), RequireClean: *requireClean, Force: *force}
	switch *mode {
	case "build":
		o.Mode = release.ModeBuild
	case "images":
		o.Mode = release.ModeImages
	case "release":
		o.Mode = release.ModeRelease
	default:
		return usageError{fmt.Errorf("-mode %q: want build, images or release", *mode)}
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
	if *version != "" || *commit != "" {
		if *version == "" || *commit == "" || *epoch <= 0 {
			return usageError{errors.New("-version, -commit and -epoch go together")}
		}
		o.Version, o.Commit, o.Dirty, o.Epoch = *version, *commit, *dirty, time.Unix(*epoch, 0).UTC()
	} else {
		info, err := source.Resolve(ctx, source.ExecGit, c.dir, os.Getenv("SOURCE_DATE_EPOCH"))
		if err != nil {
			return err
		}
		o.Version, o.Commit, o.Dirty, o.Epoch = info.Version, info.Commit, info.Dirty, info.Epoch
		if *epoch > 0 {
			o.Epoch = time.Unix(*epoch, 0).UTC()
		}
	}
	if *servicesFile != "" {
		b, err := os.ReadFile(*servicesFile)
		if err != nil {
			return fmt.Errorf("reading services: %w", err)
		}
		if err := json.Unmarshal(b, &o.Services); err != nil {
			return fmt.Errorf("decoding services %s: %w (want a JSON list of {name, package, ports, data_dirs})", *servicesFile, err)
		}
	}
	for _, dir := range []*string{cacheDir, toolCache} {
		if *dir == "" {
			if d, err := os.UserCacheDir(); err == nil {
				*dir = filepath.Join(d, "cairn")
			}
		}
	}
	if *cacheDir != "" && *cacheDir != "none" {
		// Content-addressed by their inputs; verify always runs with -cache none.
		o.Cache = release.DiskCache{Dir: filepath.Join(*cacheDir, "layers")}
		o.BinaryCache = build.DirCache{Dir: filepath.Join(*cacheDir, "bin")}
	}
	if !*noLockCheck && l != nil {
		o.CheckLock = lockChecker(*toolCache, c.goroot != "")
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

// Noise is the clean room's environment beyond HOME and GOCACHE: another time zone and
// locale, and variables that would change a build if anything leaked them through.
var noise = []string{
	"TZ=Pacific/Chatham",
	"LANG=tr_TR.UTF-8", "LC_ALL=tr_TR.UTF-8",
	"GOFLAGS=-mod=mod -race", "GOEXPERIMENT=loopvar", "GODEBUG=gotypesalias=0",
	"CGO_ENABLED=1", "GOAMD64=v3", "GOARM=6", "CC=false", "CXX=false",
	"SOURCE_DATE_EPOCH=1", "GOTOOLCHAIN=go1.21.0", "CAIRN_NOISE=1",
}

func verify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cairn-release verify", flag.ContinueOnError)
	var c common
	c.register(fs)
	jsonOut := fs.String("json", "", "write the report as JSON here (default <dist>.verify.json)")
	vsaKey := fs.String("vsa-key", os.Getenv("CAIRN_VSA_KEY"), "sign a rebuild verdict (SLSA VSA) per image rebuilt bit for bit with this cosign key (also CAIRN_VSA_KEY)")
	vsaOut := fs.String("vsa-out", "", "where the verdicts go (default <dist>.vsa)")
	verifierID := fs.String("verifier-id", "", "the verdicts' verifier id (default "+vsa.DefaultVerifierID+")")
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
	// The clean room copies the tree as it is now: it must still be the recorded commit.
	if rec, err := release.LoadRecord(filepath.Join(c.dist, release.RecordFile)); err == nil {
		if info, err := source.Resolve(ctx, source.ExecGit, c.dir, ""); err == nil && info.Commit != rec.Commit {
			return fmt.Errorf("%s was released from commit %s, the tree at %s is at %s; check out %s (or rerun the release) before verifying", c.dist, rec.Commit, c.dir, info.Commit, rec.Commit)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cairn-release itself: %w", err)
	}
	work, err := os.MkdirTemp("", "cairn-verify-")
	if err != nil {
		return fmt.Errorf("creating the clean room: %w", err)
	}
	defer os.RemoveAll(work)
	lockArg := c.lockFile
	if l == nil {
		lockArg = "none"
	}
	rebuild := cleanRoom{self: self, work: work, goroot: goroot, moduleDir: c.dir, lockArg: lockArg}.rebuild
	rep, err := release.Verify(ctx, release.VerifyOptions{ModuleDir: c.dir, DistDir: c.dist, WorkDir: work, Rebuild: rebuild})
	if err != nil {
		return err
	}
	// Then the evidence the clean room cannot rebuild: dist/cosign audited with the release's
	// public key, dist/attestations against its payloads (package evidence says why here).
	rec, err := release.LoadRecord(filepath.Join(c.dist, release.RecordFile))
	if err != nil {
		return err
	}
	var key evidence.Key
	key.K, key.From, key.Err = evidence.PublicKey(os.Getenv, c.dir)
	if key.K != nil {
		fmt.Fprintf(os.Stderr, "verify: auditing dist/cosign with %s\n", key.From)
	}
	evidence.Merge(rep, evidence.Check(ctx, c.dist, rec, key))
	fmt.Print(rep.Text())
	if *jsonOut == "" {
		*jsonOut = c.dist + ".verify.json"
	}
	b, err := rep.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the JSON report: %w", err)
	}
	if *vsaKey != "" {
		if *vsaOut == "" {
			*vsaOut = c.dist + ".vsa"
		}
		if err := writeVerdicts(rep, rec, work, *vsaKey, *verifierID, *vsaOut); err != nil {
			return err
		}
	}
	if !rep.Pass {
		return fmt.Errorf("verify FAILED: the rebuild or the evidence beside the images differs from %s (report: %s)", c.dist, *jsonOut)
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

// cleanRoom is verify's rebuild: this program (self) run again with -mode images on the copy
// of the module, in work, with a fresh GOCACHE and HOME, another umask and noise in the
// environment.
type cleanRoom struct {
	self, work, goroot, moduleDir, lockArg string
}

func (cr cleanRoom) rebuild(ctx context.Context, moduleDir, dist string, rec *release.Record) error {
	svc := make([]release.Service, len(rec.Images))
	for i, im := range rec.Images {
		svc[i] = im.Service
	}
	b, _ := json.Marshal(svc)
	svcFile := filepath.Join(cr.work, "services.json")
	if err := os.WriteFile(svcFile, b, 0o644); err != nil {
		return err
	}
	home := filepath.Join(cr.work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if cr.lockArg != "none" {
		// The lock of the copied tree, not of the original.
		rel, err := filepath.Rel(cr.moduleDir, cr.lockArg)
		if err == nil && !strings.HasPrefix(rel, "..") {
			cr.lockArg = filepath.Join(moduleDir, rel)
		}
	}
	cmdArgs := []string{"-c", `umask 077; exec "$0" "$@"`, cr.self,
		"-C", moduleDir, "-dist", dist, "-mode", "images", "-goroot", cr.goroot, "-lock", cr.lockArg,
		"-version", rec.Version, "-commit", rec.Commit, "-epoch", strconv.FormatInt(rec.Epoch, 10),
		"-dirty=" + strconv.FormatBool(rec.Dirty), "-services", svcFile, "-cache", "none", "-no-lock-check"}
	cmd := exec.CommandContext(ctx, "/bin/sh", cmdArgs...)
	cmd.Dir = moduleDir
	cmd.Env = append([]string{
		"HOME=" + home,
		"GOCACHE=" + filepath.Join(cr.work, "gocache"),
		"PATH=" + os.Getenv("PATH"),
		// The module cache is shared: its contents are verified against go.sum, and a
		// fresh one would need the network.
		"GOMODCACHE=" + gomodcache(),
		"GOPROXY=off",
	}, noise...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "verify: rebuilding %s (%s) in the clean room %s\n", rec.Version, rec.Commit, cr.work)
	return cmd.Run()
}
