package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cairn-iot/cairn/release/blobcache"
)

// Cache stores linked binaries by LinkKey, so a rerun with nothing changed copies them
// instead of linking again (go build cannot tell that its output is up to date: -buildid=
// blanks the ID it would compare). Get returns ok=false for a miss.
type Cache interface {
	Get(key string) (binary []byte, ok bool, err error)
	Put(key string, binary []byte) error
}

// DirCache is a Cache in a directory: <Dir>/<key> is a blobcache entry, checked against its
// SHA-256 on every read (a damaged binary is a miss and is linked again, never copied into a
// release).
type DirCache struct{ Dir string }

// Get implements Cache.
func (c DirCache) Get(key string) ([]byte, bool, error) {
	_, b, ok, err := blobcache.Dir{Path: c.Dir}.Get(key)
	return b, ok, err
}

// Put implements Cache.
func (c DirCache) Put(key string, b []byte) error {
	return blobcache.Dir{Path: c.Dir}.Put(key, "binary", b)
}

// Lister runs `go list` (goBin list args...) in dir with env and returns its output.
type Lister func(ctx context.Context, dir, goBin string, args, env []string) ([]byte, error)

// ExecList is the real Lister.
func ExecList(ctx context.Context, dir, goBin string, args, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	dieWithParent(cmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// linkKeys returns, per package argument, a key over everything the link of that package
// reads: the toolchain version, the exact environment and go arguments (output path left
// out), go.mod and go.sum (the module information the binary embeds), and every package
// the binary links with its compiled archive's content-addressed cache path (go list
// -export, compiled with the same flags, so it shares go build's cache and compiles
// nothing twice). A change to any source, embedded file, dependency or flag changes a key.
func linkKeys(ctx context.Context, list Lister, o Options, t Target, env []string) (map[string]string, error) {
	goBin := filepath.Join(o.GOROOT, "bin", "go")
	version, err := os.ReadFile(filepath.Join(o.GOROOT, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("reading the toolchain version: %w", err)
	}
	var modfiles []byte
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(o.ModuleDir, f))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		modfiles = append(modfiles, b...)
		modfiles = append(modfiles, 0)
	}
	paths := make([]string, len(o.Packages))
	for i, p := range o.Packages {
		paths[i] = p.Path
	}
	names, err := list(ctx, o.ModuleDir, goBin, append([]string{"list", "-trimpath", "-f", "{{.ImportPath}}"}, paths...), env)
	if err != nil {
		return nil, err
	}
	importPaths := strings.Fields(string(names))
	if len(importPaths) != len(paths) {
		return nil, fmt.Errorf("go list named %d packages for %d arguments", len(importPaths), len(paths))
	}
	out, err := list(ctx, o.ModuleDir, goBin, append([]string{"list", "-deps", "-export", "-trimpath",
		"-f", "{{.ImportPath}}\t{{.Export}}\t{{join .Deps \" \"}}"}, paths...), env)
	if err != nil {
		return nil, err
	}
	export := map[string]string{}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("unexpected go list line %q", line)
		}
		export[f[0]] = f[1]
		deps[f[0]] = strings.Fields(f[2])
	}
	keys := map[string]string{}
	for i, ip := range importPaths {
		h := sha256.New()
		fmt.Fprintf(h, "cairn link key 1\x00%s\x00%s\x00%s\x00", version, strings.Join(env, "\x00"),
			strings.Join(Args(o.Version, o.Commit, "OUT", paths[i]), "\x00"))
		h.Write(modfiles)
		for _, d := range append([]string{ip}, deps[ip]...) {
			e, ok := export[d]
			if d == "unsafe" { // implemented by the compiler: no archive
				e, ok = "unsafe", true
			}
			if !ok || e == "" {
				return nil, fmt.Errorf("go list gave no compiled archive for %s (rerun with -cache none and report it)", d)
			}
			fmt.Fprintf(h, "%s=%s\x00", d, filepath.Base(e))
		}
		keys[paths[i]] = hex.EncodeToString(h.Sum(nil))
	}
	return keys, nil
}
