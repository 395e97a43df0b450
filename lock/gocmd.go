package lock

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cairn-iot/cairn/lock/goenv"
)

// Option configures Toolchain, Check and Update.
type Option func(*options)

type options struct {
	env      map[string]string // the go command's passthrough environment
	cacheDir string            // where toolchains are unpacked
	goos     string            // host whose toolchain Toolchain returns
	goarch   string
	// skipToolchain leaves the toolchain out of Check (tests of the other pins only).
	skipToolchain bool
	// skipToolModules leaves `go mod verify` of the tool modules out of Check.
	skipToolModules bool
	// nixHashCache, if set, keeps ModulesNixHash results by go.mod and go.sum content.
	nixHashCache string
}

// WithoutToolchain leaves the toolchain out of Check: for a caller that has just had
// Toolchain check the unpacked tree (cairn-release given -goroot by mage), so it is not
// re-hashed a second time in the same release.
func WithoutToolchain() Option { return func(o *options) { o.skipToolchain = true } }

// WithoutToolModules leaves `go mod verify -modfile=lock/tools.mod` (about 1.7 GB of
// goreleaser and cosign modules) out of Check, for a release, which builds nothing from them:
// they are verified by `go tool mage lock:check` and checked by the go command against
// lock/tools.sum whenever it downloads one to build a tool. The
// tools' files against the lock and the cache's recorded zip hashes against lock/tools.sum
// are still checked.
func WithoutToolModules() Option { return func(o *options) { o.skipToolModules = true } }

// WithNixHashCache keeps the modules' nix hash (ModulesNixHash) in dir, by the SHA-256 of
// go.mod and go.sum: the hash is a function of those two files alone (every byte it covers is
// pinned by go.sum and checked by the go command as it downloads), so a lock check with
// unchanged go.mod and go.sum reads it instead of copying and hashing every module again.
func WithNixHashCache(dir string) Option { return func(o *options) { o.nixHashCache = dir } }

// WithEnv replaces the passthrough environment (by default the goenv.Passthrough variables
// of the calling process) with kv, a list of "KEY=value". Tests use it for a private GOMODCACHE or GOPROXY.
func WithEnv(kv ...string) Option {
	return func(o *options) {
		o.env = map[string]string{}
		for _, s := range kv {
			k, v, _ := strings.Cut(s, "=")
			o.env[k] = v
		}
	}
}

// WithCacheDir sets the directory toolchains are unpacked into (default: the user cache
// directory's cairn/toolchain).
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithHost selects the host whose toolchain Toolchain returns (default: GOHOSTOS-GOHOSTARCH
// of the calling process). Only useful to tests and cross-checks: the result runs on that host.
func WithHost(goos, goarch string) Option {
	return func(o *options) { o.goos, o.goarch = goos, goarch }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{goos: runtime.GOOS, goarch: runtime.GOARCH}
	for _, opt := range opts {
		opt(o)
	}
	if o.env == nil {
		o.env = map[string]string{}
		for _, kv := range goenv.Pick(os.LookupEnv) {
			k, v, _ := strings.Cut(kv, "=")
			o.env[k] = v
		}
	}
	if o.cacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the toolchain cache directory: %w", err)
		}
		o.cacheDir = filepath.Join(d, "cairn", "toolchain")
	}
	return o, nil
}

// goCmd runs the go command on PATH in dir with an environment built from nothing,
// goenv.Tool of goflags and the passthrough variables: the host go does the work and never
// switches. It returns stdout; on failure the error holds stderr.
func (o *options) goCmd(ctx context.Context, dir, goflags string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	if p, ok := o.env["PATH"]; ok {
		// Resolve "go" on the child's PATH, not ours.
		if lp, err := lookPath("go", p); err == nil {
			cmd.Path = lp
			cmd.Err = nil
		}
	}
	cmd.Dir = dir
	cmd.Env = goenv.Tool(goflags, goenv.Pick(func(k string) (string, bool) { v, ok := o.env[k]; return v, ok }))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func lookPath(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}
