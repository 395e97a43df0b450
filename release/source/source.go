// Package source is what a release reads of its sources: the module's input files (Files)
// and, resolved once, the version (like `git describe --tags --always --dirty`), the commit
// (HEAD) and the one source date epoch (SOURCE_DATE_EPOCH if set, else HEAD's commit time). The release targets call Resolve at
// the edge and pass the Info down as a value; nothing below reads git or the environment.
package source

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Info is the identity of a release's sources.
type Info struct {
	Version string    // "v0.1.0", "v0.1.0-3-gabc1234", "abc1234" (no tag); "-dirty" appended if Dirty
	Commit  string    // full hash of HEAD
	Epoch   time.Time // UTC, whole seconds
	Dirty   bool      // tracked files differ from HEAD
}

// Git runs git with args in dir and returns its standard output. Tests may replace it.
type Git func(ctx context.Context, dir string, args ...string) (string, error)

// ExecGit is the real Git.
func ExecGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Resolve reads the version, commit, dirtiness and epoch of the git work tree at dir.
// sourceDateEpoch is the value of SOURCE_DATE_EPOCH ("" if unset), read by the caller.
func Resolve(ctx context.Context, git Git, dir, sourceDateEpoch string) (Info, error) {
	var info Info
	var err error
	if info.Commit, err = git(ctx, dir, "rev-parse", "HEAD"); err != nil {
		return Info{}, fmt.Errorf("resolving HEAD (a release needs a git work tree with at least one commit): %w", err)
	}
	// --dirty compares tracked files with HEAD; untracked files do not count (they are
	// not part of any build unless added, and `git describe` agrees).
	if info.Version, err = git(ctx, dir, "describe", "--tags", "--always", "--dirty", "--abbrev=12"); err != nil {
		return Info{}, fmt.Errorf("describing HEAD: %w", err)
	}
	info.Dirty = strings.HasSuffix(info.Version, "-dirty")
	if sourceDateEpoch != "" {
		info.Epoch, err = ParseEpoch(sourceDateEpoch)
		if err != nil {
			return Info{}, err
		}
		return info, nil
	}
	ct, err := git(ctx, dir, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return Info{}, fmt.Errorf("reading HEAD's commit time: %w", err)
	}
	if info.Epoch, err = ParseEpoch(ct); err != nil {
		return Info{}, fmt.Errorf("HEAD's commit time: %w", err)
	}
	return info, nil
}

// ParseEpoch parses a SOURCE_DATE_EPOCH value: decimal seconds since 1970, UTC.
func ParseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is %q, want a positive number of seconds since 1970 (e.g. `git log -1 --format=%%ct`)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
