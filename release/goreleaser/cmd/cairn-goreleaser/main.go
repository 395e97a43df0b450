// Command cairn-goreleaser publishes a tagged release's archives, Debian packages and signed
// checksums to the GitHub release, with goreleaser in release mode (CI, on a tag), through
// package release/goreleaser (goreleaser.Publish).
//
// Usage:
//
//	go run ./release/goreleaser/cmd/cairn-goreleaser publish [-C dir] [-out dir] [-dry-run]
//
// Flags:
//
//	-C dir      the module to publish (default .)
//	-out dir    goreleaser's output directory, which must not exist (default <C>/dist.publish)
//	-dry-run    build, package and sign, but upload nothing (goreleaser
//	            --skip=publish,announce)
//
// It is the edge: it reads the lock (the pinned toolchain, fetched by lock.Toolchain on first
// use), git (version, commit and epoch, as the release does, package source) and the
// environment once, refuses a dirty tree, and runs goreleaser with an environment built from
// nothing (goreleaser.Env). If <C>/dist/bin exists (`go tool mage release` ran first),
// goreleaser's binaries must equal it byte for byte.
//
// Environment: SOURCE_DATE_EPOCH, if set, is the epoch (else HEAD's commit time). goreleaser
// and its builds see only goreleaser.Passthrough (PATH, HOME, GOCACHE, GOMODCACHE, the proxy
// and sum database variables) and GITHUB_TOKEN, COSIGN_KEY and COSIGN_PASSWORD
// (goreleaser.PublishPassthrough: the upload and the stock cosign CLI's signing key).
//
// Output: goreleaser's dist in -out (binaries, archives, packages, checksums.txt and its
// signature, artifacts.json) and, unless -dry-run, the GitHub release of the tag.
// goreleaser's own output is shown only when it fails (its last 4000 bytes, on standard
// error).
//
// Exit status: 0 on success, 1 on any error (usage included: a first argument other than
// publish, an unknown flag).
//
// A release does not run goreleaser: `go tool mage release` writes the same archives and
// packages into dist/packages (release/packages).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/release/goreleaser"
	"github.com/cairn-iot/cairn/release/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn-goreleaser:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "publish" {
		return errors.New("usage: cairn-goreleaser publish [-C dir] [-out dir] [-dry-run]")
	}
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	dir := fs.String("C", ".", "the module to publish")
	out := fs.String("out", "", "goreleaser's output directory (default <C>/dist.publish)")
	dryRun := fs.Bool("dry-run", false, "build, package and sign, but upload nothing (--skip=publish,announce)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	moduleDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(moduleDir, "dist.publish")
	}
	l, err := lock.Load(filepath.Join(moduleDir, filepath.FromSlash(lock.File)))
	if err != nil {
		return err
	}
	goroot, err := lock.Toolchain(ctx, l)
	if err != nil {
		return fmt.Errorf("getting the pinned toolchain %s: %w", l.Go.Version, err)
	}
	info, err := source.Resolve(ctx, source.ExecGit, moduleDir, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	if info.Dirty {
		return fmt.Errorf("the work tree is dirty (version %s): a published release is built from a clean checkout of its tag", info.Version)
	}
	bin := filepath.Join(moduleDir, "dist", "bin")
	if _, err := os.Stat(bin); err != nil {
		bin = ""
	}
	var skip []string
	if *dryRun {
		skip = []string{"publish", "announce"}
	}
	return goreleaser.Publish(ctx, goreleaser.Config{
		ModuleDir: moduleDir,
		GOROOT:    goroot,
		Version:   info.Version,
		Commit:    info.Commit,
		Epoch:     info.Epoch,
		BinDir:    bin,
		Out:       *out,
		LookupEnv: os.LookupEnv,
	}, skip...)
}
