package packages

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Changelog returns CHANGELOG.md for version from the git repository at dir: the commits
// since the last tag before HEAD (all commits if there is none, as in a shallow or one-commit
// clone), newest first, one line each with a 12-character hash (so that the text does not
// depend on the clone's abbreviation length) and the subject. env is the whole environment
// git runs with.
func Changelog(ctx context.Context, dir, version string, env []string) ([]byte, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}
	// The base is the newest tag reachable from HEAD, or from HEAD^ when HEAD itself is tagged
	// (the changelog of a tag is what it adds). No tag, or no parent: the whole history.
	rev := "HEAD"
	if _, err := git("describe", "--tags", "--exact-match", "HEAD"); err == nil {
		rev = "HEAD^"
	}
	rangeArg := "HEAD"
	if tag, err := git("describe", "--tags", "--abbrev=0", rev); err == nil {
		rangeArg = strings.TrimSpace(tag) + "..HEAD"
	}
	log, err := git("log", "--no-merges", "--format=%H %s", rangeArg)
	if err != nil {
		return nil, fmt.Errorf("writing changelog: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Changelog\n\n## %s\n\n", version)
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		hash, subject, _ := strings.Cut(line, " ")
		if len(hash) > 12 {
			hash = hash[:12]
		}
		fmt.Fprintf(&b, "* %s %s\n", hash, subject)
	}
	return []byte(b.String()), nil
}
