package main

import (
	"context"

	"github.com/cairn-iot/cairn/lock"
)

// pinnedToolchain returns the GOROOT of the lock's toolchain, downloaded and checked
// against the lock on first use.
func pinnedToolchain(ctx context.Context, l *lock.Lock) (string, error) {
	return lock.Toolchain(ctx, l)
}

// checkLock checks every pin of the lock against reality.
func checkLock(ctx context.Context, moduleDir string) error { return lock.Check(ctx, moduleDir) }
