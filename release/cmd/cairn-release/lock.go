package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cairn-iot/cairn/lock"
)

// pinnedToolchain returns the GOROOT of the lock's toolchain.
// TODO(lock): call lock.Toolchain(ctx, l) once it lands; until then the go on PATH is
// accepted if it is exactly the pinned version (toolchain() checks GOROOT/VERSION).
func pinnedToolchain(ctx context.Context, l *lock.Lock) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("finding a Go toolchain (want %s): %w", l.Go.Version, err)
	}
	return filepath.Clean(strings.TrimSpace(string(out))), nil
}

// checkLock checks every pin of the lock against reality.
// TODO(lock): call lock.Check(ctx, moduleDir) once it lands.
func checkLock(ctx context.Context, moduleDir string) error { return nil }
