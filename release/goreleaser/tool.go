package goreleaser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ToolPackage is goreleaser's main package, a tool of lock/tools.mod.
const ToolPackage = "github.com/goreleaser/goreleaser/v2"

// toolSumFile holds, next to the cached binary, its SHA-256 in hex.
const toolSumFile = "goreleaser.sha256"

// Tool returns the path of goreleaser built from lock/tools.mod by the pinned toolchain
// (goroot), from a content-addressed cache: <cacheDir>/<key>/goreleaser, where key is the
// SHA-256 of lock/tools.mod, lock/tools.sum, the toolchain's VERSION, the host platform and
// the build command. goreleaser is a large program (several minutes to compile from an empty
// GOCACHE); a release with an empty GOCACHE reuses it as it reuses the module cache and the
// toolchain, and a change of any of those inputs builds it again.
//
// On a miss, the tool modules are first checked against lock/tools.sum (`go mod verify
// -modfile=lock/tools.mod`, which lock.Check leaves to this step), then goreleaser is built
// into a temporary directory that is renamed into place, so a killed build leaves no entry. On
// a hit, the binary must still hash to the SHA-256 recorded when it was built; a damaged
// entry is rebuilt. env is the environment of the go commands (PATH, HOME, GOCACHE,
// GOMODCACHE, GOPROXY...), to which the build settings are added.
func Tool(ctx context.Context, goroot, moduleDir, cacheDir string, env []string, logf func(string, ...any)) (string, error) {
	version, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("goreleaser: reading the toolchain's VERSION: %w", err)
	}
	modfile := filepath.Join(moduleDir, ToolsModfile)
	sumfile := strings.TrimSuffix(modfile, ".mod") + ".sum"
	// The key names the modfile by its place in the module, so every checkout shares it.
	buildArgs := []string{"build", "-modfile=" + ToolsModfile, "-o"}
	h := sha256.New()
	for _, f := range []string{modfile, sumfile} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("goreleaser: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n%s\n", filepath.Base(f), len(b), b)
	}
	line, _, _ := strings.Cut(string(version), "\n")
	fmt.Fprintf(h, "toolchain %s\nhost %s/%s\nbuild %q %s\n", line, runtime.GOOS, runtime.GOARCH, buildArgs, ToolPackage)
	key := hex.EncodeToString(h.Sum(nil))
	dir := filepath.Join(cacheDir, key)
	bin := filepath.Join(dir, "goreleaser")

	want, err := os.ReadFile(filepath.Join(dir, toolSumFile))
	switch {
	case err == nil:
		got, err := fileSHA256(bin)
		if err == nil && got == strings.TrimSpace(string(want)) {
			return bin, nil
		}
		logf("goreleaser: the cached build in %s does not match its recorded SHA-256 (%v); building it again", dir, err)
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("goreleaser: removing the damaged cached build: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("goreleaser: reading the cached build: %w", err)
	}

	logf("goreleaser: building %s from %s with %s (once per lock/tools.sum and toolchain) into %s", ToolPackage, ToolsModfile, line, dir)
	env = append(env, "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly", "GOWORK=off",
		"GOEXPERIMENT=", "GODEBUG=", "GOOS=", "GOARCH=")
	gobin := filepath.Join(goroot, "bin", "go")
	if out, err := runGo(ctx, moduleDir, gobin, env, "mod", "verify", "-modfile="+modfile); err != nil {
		return "", fmt.Errorf("goreleaser: the module cache does not match %s: %w: %s; run `go clean -modcache` to download the modules again", sumfile, err, tail(out, 2000))
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("goreleaser: creating the tool cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("goreleaser: creating the tool cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-modfile=" + modfile, "-o", filepath.Join(tmp, "goreleaser"), ToolPackage}
	if out, err := runGo(ctx, moduleDir, gobin, env, args...); err != nil {
		return "", fmt.Errorf("goreleaser: building %s: %w: %s", ToolPackage, err, tail(out, 4000))
	}
	sum, err := fileSHA256(filepath.Join(tmp, "goreleaser"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, toolSumFile), []byte(sum+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("goreleaser: recording the build: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("goreleaser: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, toolSumFile)); statErr == nil {
			return bin, nil // another release built it at the same time
		}
		return "", fmt.Errorf("goreleaser: storing the build: %w", err)
	}
	return bin, nil
}

func runGo(ctx context.Context, dir, gobin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
