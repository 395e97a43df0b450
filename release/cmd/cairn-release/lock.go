package main

import (
	"context"
	"path/filepath"

	"github.com/cairn-iot/cairn/lock"
)

// pinnedToolchain returns the GOROOT of the lock's toolchain, downloaded and checked
// against the lock on first use.
func pinnedToolchain(ctx context.Context, l *lock.Lock) (string, error) {
	return lock.Toolchain(ctx, l)
}

// lockChecker returns the release's lock check: every pin of the lock against reality
// (lock.Check) but the tool modules of lock/tools.mod, which the release builds nothing
// from (`go tool mage lock:check` verifies them, and `go tool -modfile` whenever it builds
// one), and with two things left to where they are done once: with a tool cache, the
// modules' nix hash is kept by go.mod and go.sum (cacheDir/nixhash); with -goroot given
// (mage passes the toolchain lock.Toolchain has just checked), the toolchain tree is not
// hashed a second time.
func lockChecker(cacheDir string, gorootGiven bool) func(ctx context.Context, moduleDir string) error {
	opts := []lock.Option{lock.WithoutToolModules()}
	if cacheDir != "" && cacheDir != "none" {
		opts = append(opts, lock.WithNixHashCache(filepath.Join(cacheDir, "nixhash")))
	}
	if gorootGiven {
		opts = append(opts, lock.WithoutToolchain())
	}
	return func(ctx context.Context, moduleDir string) error { return lock.Check(ctx, moduleDir, opts...) }
}
