package targets

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cairn-iot/cairn/lock"
)

// Build builds every service for linux/amd64 and linux/arm/v7 into dist/bin (and
// dist/release.json, without images).
func Build(ctx context.Context) error { return cairnRelease(ctx, "-mode", "build") }

// Images builds the binaries and assembles the multi-arch OCI images into dist/oci and
// dist/archives, without the lock check and without signing.
func Images(ctx context.Context) error { return cairnRelease(ctx, "-mode", "images") }

// Release checks the lock, builds, assembles and runs the release steps (signing,
// attestations, goreleaser) into dist/, swapped in atomically at the end.
func Release(ctx context.Context) error { return cairnRelease(ctx, "-mode", "release") }

// Verify rebuilds the release of dist/release.json in a clean room and compares it with
// dist/ file by file, then audits dist/cosign and dist/attestations with the release's public
// key (COSIGN_PUBLIC_KEY, else COSIGN_KEY's, else .cairn/keys/cosign.pub; done inside
// cairn-release verify, see package release/evidence): PASS/FAIL lines on stdout, the JSON
// report in dist.verify.json, and a non-zero exit on any difference.
func Verify(ctx context.Context) error { return cairnRelease(ctx, "verify") }

// cairnRelease runs `<pinned go> run ./release/cmd/cairn-release -goroot <pinned> args...` in
// the module root (mage's working directory). The pipeline runs in its own process, compiled
// by the pinned toolchain, so its output does not depend on the Go that compiled mage (see
// package release). The child inherits the environment (it is the edge that reads
// SOURCE_DATE_EPOCH, CAIRN_REQUIRE_CLEAN, COSIGN_*), minus the variables that would change how
// the assembler itself is compiled, which are set explicitly.
func cairnRelease(ctx context.Context, args ...string) error {
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
	full := append([]string{"run", "./release/cmd/cairn-release"}, args...)
	full = append(full, "-goroot", goroot)
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), full...)
	cmd.Dir = dir
	cmd.Env = assemblerEnv(os.Environ())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cairn-release %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// assemblerEnv is env without the variables that change how cairn-release is compiled,
// then those set explicitly: host platform, static, the pinned toolchain only, the module
// graph read-only.
func assemblerEnv(env []string) []string {
	drop := map[string]bool{
		"GOOS": true, "GOARCH": true, "GOARM": true, "GOAMD64": true, "GO386": true,
		"CGO_ENABLED": true, "GOTOOLCHAIN": true, "GOFLAGS": true, "GOEXPERIMENT": true,
		"GODEBUG": true, "GOWORK": true, "CC": true, "CXX": true, "GOROOT": true,
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly", "GOWORK=off",
		"GOEXPERIMENT=", "GODEBUG=")
}
