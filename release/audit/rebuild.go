package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
)

// GitRebuilder rebuilds in a temporary git worktree of the repository at repoDir: it checks
// out the provenance's commit (detached), runs the release pipeline's entry point there
// compiled by the Go version that commit's lock pins (`GOTOOLCHAIN=<pinned> go run
// ./release/cmd/cairn-release -mode images` with the recorded version, commit and epoch;
// cairn-release then builds with the toolchain archive its own lock pins), and returns the rebuilt index
// digest of the service from the worktree's dist/release.json. The worktree is removed after.
// Images are compared, not signatures: those depend on the key, not on the sources.
// extraArgs are appended to cairn-release's flags (a test's -services file).
func GitRebuilder(repoDir string, log io.Writer, extraArgs ...string) Rebuilder {
	return func(ctx context.Context, in RebuildInput) (v1.Hash, error) {
		if log == nil {
			log = io.Discard
		}
		if in.Commit == "" || in.Epoch == "" || in.Version == "" || in.Name == "" {
			return v1.Hash{}, fmt.Errorf("rebuilding: the provenance lacks commit, version, epoch or service name (%+v)", in)
		}
		tmp, err := os.MkdirTemp("", "cairn-rebuild-")
		if err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding: %w", err)
		}
		defer os.RemoveAll(tmp)
		wt := filepath.Join(tmp, "src")
		git := func(args ...string) error {
			cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repoDir}, args...)...)
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("git %v: %w", args, err)
			}
			return nil
		}
		if err := git("worktree", "add", "--detach", wt, in.Commit); err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding: checking out %s (is this a clone of %s that has the commit?): %w", in.Commit, in.Repository, err)
		}
		defer git("worktree", "remove", "--force", wt)
		// The commit's own code picks its pinned toolchain: this package's lock reader may
		// not read an older lock format. Only the Go version is read here, and the go
		// command switches to exactly that toolchain (GOTOOLCHAIN, checked against the
		// checksum database) to compile the commit's cairn-release, which then builds with
		// the toolchain archive its lock pins.
		lockData, err := os.ReadFile(filepath.Join(wt, filepath.FromSlash(lock.File)))
		if err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding: %w", err)
		}
		var pinned struct {
			Go struct {
				Version string `json:"version"`
			} `json:"go"`
		}
		if err := json.Unmarshal(lockData, &pinned); err != nil || !strings.HasPrefix(pinned.Go.Version, "go1.") {
			return v1.Hash{}, fmt.Errorf("rebuilding: expected a Go version in %s at %s, found %q (%v)", lock.File, in.Commit, pinned.Go.Version, err)
		}
		dist := filepath.Join(tmp, "dist")
		cmd := exec.CommandContext(ctx, "go", "run", "./release/cmd/cairn-release",
			"-mode", "images", "-dist", dist, "-version", in.Version, "-commit", in.Commit, "-epoch", in.Epoch)
		cmd.Args = append(cmd.Args, extraArgs...)
		cmd.Dir = wt
		cmd.Env = goenv.Assembler(os.Environ(), pinned.Go.Version)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding %s at %s: %w", in.Name, in.Commit, err)
		}
		data, err := os.ReadFile(filepath.Join(dist, "release.json"))
		if err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding: %w", err)
		}
		var rec struct {
			Images []struct {
				Name  string `json:"name"`
				Index string `json:"index"`
			} `json:"images"`
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			return v1.Hash{}, fmt.Errorf("rebuilding: reading release.json: %w", err)
		}
		for _, img := range rec.Images {
			if img.Name == in.Name {
				return v1.NewHash(img.Index)
			}
		}
		return v1.Hash{}, fmt.Errorf("rebuilding: the rebuilt release has no image %s", in.Name)
	}
}
