package targets

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/release/source"
)

// Build builds every service for linux/amd64 and linux/arm/v7 into dist/bin (and
// dist/release.json, without images).
func Build(ctx context.Context) error { return releaseMode(ctx, release.ModeBuild, "build") }

// Images builds the binaries and assembles the multi-arch OCI images into dist/oci and
// dist/archives, without the lock check and without signing.
func Images(ctx context.Context) error { return releaseMode(ctx, release.ModeImages, "images") }

// Release checks the lock, builds, assembles and runs the release steps (signing,
// attestations, archives and packages) into dist/, swapped in atomically at the end.
func Release(ctx context.Context) error { return releaseMode(ctx, release.ModeRelease, "release") }

// releaseMode runs cairn-release -mode name, unless dist/ already holds exactly that release
// (release.UpToDate: the same inputs digest over the options, every file of the module tree
// and the signing key, and every dist/ file still hashing as recorded). That check runs here,
// in mage's process, because it builds nothing: it needs neither the pinned toolchain (whose
// tree lock.Toolchain re-hashes, seconds) nor `go run`. What it reads is what cairn-release
// reads (the same git, SOURCE_DATE_EPOCH, lock and COSIGN_KEY), so the two agree on the
// digest; CAIRN_FORCE=1 skips the check in both. When the check here has found dist/ out of
// date, cairn-release gets -force rather than hashing the tree and dist/ a second time.
func releaseMode(ctx context.Context, mode release.Mode, name string) error {
	args := []string{"-mode", name}
	if os.Getenv("CAIRN_FORCE") != "1" {
		fresh, checked, err := upToDate(ctx, mode)
		if err != nil {
			return err
		}
		if fresh {
			return nil
		}
		if checked {
			args = append(args, "-force")
		}
	}
	return cairnRelease(ctx, args...)
}

// upToDate reports whether dist/ is the release mode would make, and says on stderr why or
// why not. checked is false when it could not tell (a dirty tree that CAIRN_REQUIRE_CLEAN
// refuses, no git, an unreadable file): cairn-release then decides.
func upToDate(ctx context.Context, mode release.Mode) (fresh, checked bool, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return false, false, err
	}
	l, err := lock.Load(filepath.Join(dir, filepath.FromSlash(lock.File)))
	if err != nil {
		return false, false, err
	}
	info, err := source.Resolve(ctx, source.ExecGit, dir, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil || (info.Dirty && os.Getenv("CAIRN_REQUIRE_CLEAN") == "1") {
		return false, false, nil
	}
	o := release.Options{
		Mode: mode, ModuleDir: dir, Lock: l,
		Version: info.Version, Commit: info.Commit, Dirty: info.Dirty, Epoch: info.Epoch,
	}
	if mode == release.ModeRelease {
		o.ExtraInputs = signstep.KeysFromEnv(os.Getenv).Files(dir)
	}
	f, err := release.UpToDate(o)
	if err != nil {
		return false, false, nil
	}
	if !f.Fresh {
		fmt.Fprintf(os.Stderr, "release %s: %s\n", info.Version, f.Reason)
		return false, true, nil
	}
	fmt.Fprintln(os.Stderr, f.Summary(info.Version, info.Commit, filepath.Join(dir, "dist")))
	return true, true, nil
}

// Verify rebuilds the release of dist/release.json in a clean room and compares it with
// dist/ file by file, then audits dist/cosign and dist/attestations with the release's public
// key (COSIGN_PUBLIC_KEY, else COSIGN_KEY's, else .cairn/keys/cosign.pub; done inside
// cairn-release verify, see package release/verify): PASS/FAIL lines on stdout, the JSON
// report in dist.verify.json, and a non-zero exit on any difference.
func Verify(ctx context.Context) error { return cairnRelease(ctx, "verify") }

// cairnRelease runs `<pinned go> run ./release/cmd/cairn-release -goroot <pinned> args...` in
// the module root (mage's working directory). The pipeline runs in its own process, compiled
// by the pinned toolchain, so its output does not depend on the Go that compiled mage (see
// command cairn-release). The child inherits the environment (it is the edge that reads
// SOURCE_DATE_EPOCH, CAIRN_REQUIRE_CLEAN, COSIGN_*), minus the variables that would change how
// the assembler itself is compiled, which are set explicitly.
func cairnRelease(ctx context.Context, args ...string) error {
	return runPinnedGo(ctx, "cairn-release "+strings.Join(args, " "), func(goroot string) []string {
		full := append([]string{"run", "./release/cmd/cairn-release"}, args...)
		return append(full, "-goroot", goroot)
	})
}

// runPinnedGo runs `<pinned go> args(goroot)...` in the module root (mage's working
// directory) with goenv.Assembler and mage's standard streams; what names it in an error.
func runPinnedGo(ctx context.Context, what string, args func(goroot string) []string) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	l, err := lock.Load(filepath.Join(dir, filepath.FromSlash(lock.File)))
	if err != nil {
		return err
	}
	goroot, err := lock.Toolchain(ctx, l)
	if err != nil {
		return fmt.Errorf("getting the pinned toolchain %s: %w", l.Go.Version, err)
	}
	// go run says nothing while it compiles: on a first release, with GOCACHE empty, that is
	// half a minute.
	fmt.Fprintf(os.Stderr, "%s: compiling it with %s and running it (go run)\n", what, l.Go.Version)
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), args(goroot)...)
	cmd.Dir = dir
	cmd.Env = goenv.Assembler(os.Environ(), "local")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
