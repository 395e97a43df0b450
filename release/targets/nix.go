package targets

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/verify"
)

// VerifyNix rebuilds the release recorded in dist/release.json with `nix build .#release`
// (flake.nix: the official toolchain and the module set fetched by the hashes in lock/, the
// release entry point run offline) and compares the result with dist/ bit for bit, with the
// same report as verify: text on stdout, JSON in dist.verify-nix.json.
func VerifyNix(ctx context.Context) error {
	return verifyNix(ctx, NixOptions{ModuleDir: ".", Out: os.Stdout, Log: os.Stderr})
}

// NixOptions are the inputs of a nix verification.
type NixOptions struct {
	// ModuleDir is the flake's directory, the git work tree of the release.
	ModuleDir string
	// DistDir is the release to compare (default ModuleDir/dist).
	DistDir string
	// Build runs the nix build (default NixBuild).
	Build NixBuilder
	// Out receives the report, Log the build's output.
	Out, Log io.Writer
}

// NixBuilder builds the flake in dir with the given release identity and returns the
// store path of the result; gcroot is where it may keep a GC root while the caller reads it.
type NixBuilder func(ctx context.Context, dir, gcroot string, id NixIdentity, log io.Writer) (string, error)

// NixIdentity is what the flake is told of the release it rebuilds; flake.nix reads it from
// CAIRN_VERSION, CAIRN_COMMIT and SOURCE_DATE_EPOCH (hence --impure) and checks the commit
// against its own tree.
type NixIdentity struct {
	Version string
	Commit  string
	Epoch   int64
}

func verifyNix(ctx context.Context, o NixOptions) error {
	if o.DistDir == "" {
		o.DistDir = filepath.Join(o.ModuleDir, "dist")
	}
	if o.Build == nil {
		o.Build = NixBuild
	}
	rec, err := record.Load(filepath.Join(o.DistDir, record.File))
	if err != nil {
		return fmt.Errorf("verify:nix: %w (run `go tool mage release` first)", err)
	}
	work, err := os.MkdirTemp("", "cairn-verify-nix-")
	if err != nil {
		return fmt.Errorf("verify:nix: %w", err)
	}
	defer os.RemoveAll(work)
	id := NixIdentity{Version: rec.Version, Commit: rec.Commit, Epoch: rec.Epoch}
	out, err := o.Build(ctx, o.ModuleDir, filepath.Join(work, "result"), id, o.Log)
	if err != nil {
		return fmt.Errorf("verify:nix: %w", err)
	}
	rep, err := verify.Compare(o.DistDir, out)
	if err != nil {
		return fmt.Errorf("verify:nix: comparing %s with %s: %w", o.DistDir, out, err)
	}
	fmt.Fprint(o.Out, rep.Text())
	b, err := rep.JSON()
	if err != nil {
		return err
	}
	jsonFile := filepath.Clean(o.DistDir) + ".verify-nix.json"
	if err := os.WriteFile(jsonFile, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("verify:nix: writing the JSON report: %w", err)
	}
	if !rep.Pass {
		return fmt.Errorf("verify:nix FAILED: the nix build %s differs from %s (report: %s)", out, o.DistDir, jsonFile)
	}
	return nil
}

// NixBuild runs
//
//	nix --extra-experimental-features 'nix-command flakes' build --impure \
//	    --option substituters '' --print-build-logs --out-link <gcroot> <dir>#release
//
// with CAIRN_VERSION, CAIRN_COMMIT and SOURCE_DATE_EPOCH set to id (any other value of them
// in this process's environment is dropped), and returns the store path of the result.
// Substituters are off: an independent rebuild builds everything itself, it never
// downloads a build result from a binary cache. The nix command itself runs in this
// process's environment (NIX_* settings, proxies, PATH), which does not reach the builders:
// nix builds every derivation in an environment of its own attributes.
func NixBuild(ctx context.Context, dir, gcroot string, id NixIdentity, log io.Writer) (string, error) {
	nix, err := exec.LookPath("nix")
	if err != nil {
		return "", fmt.Errorf("nix is not installed (want the nix command, 2.8 or newer, with flakes): %w; install it (Debian: apt-get install nix-bin) or see https://nixos.org/download", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, nix, "--extra-experimental-features", "nix-command flakes",
		"build", "--impure", "--option", "substituters", "", "--print-build-logs",
		"--out-link", gcroot, abs+"#release")
	cmd.Dir = abs
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "CAIRN_VERSION" && k != "CAIRN_COMMIT" && k != "SOURCE_DATE_EPOCH" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CAIRN_VERSION="+id.Version, "CAIRN_COMMIT="+id.Commit, "SOURCE_DATE_EPOCH="+strconv.FormatInt(id.Epoch, 10))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nix build %s#release (version %s, commit %s, epoch %d): %w; its log is above", abs, id.Version, id.Commit, id.Epoch, err)
	}
	out, err := filepath.EvalSymlinks(gcroot)
	if err != nil {
		return "", fmt.Errorf("reading the result of nix build: %w", err)
	}
	return out, nil
}
