package lock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// Check verifies every pin of the module rooted at moduleDir against reality and returns
// every drift it finds (errors.Join), each naming the input, the expected and the found
// value, and the command that fixes it:
//
//   - go.mod, go.sum, lock/tools.mod and lock/tools.sum against their SHA-256 in the lock;
//   - the module cache against go.sum and lock/tools.sum: `go mod verify` for both modfiles
//     (the unpacked trees and zips against the hashes recorded at download), and each cached
//     zip's recorded hash against the sum file's h1 line;
//   - the module set's nix hash (ModulesNixHash) against modules.nix_hash, the hash of
//     flake.nix's module download;
//   - the compressor's version against go.mod's requirement;
//   - the host's toolchain archive: Toolchain downloads it if needed (a lock naming a
//     toolchain the proxy cannot serve fails here) and checks its zip SHA-256, h1 and the
//     unpacked tree against the lock. Only the host's archive is fetched; the other three
//     are checked by whoever builds on those hosts.
//
// It writes nothing but the module and toolchain caches.
func Check(ctx context.Context, moduleDir string, opts ...Option) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	l, err := Load(filepath.Join(moduleDir, filepath.FromSlash(File)))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range []struct{ name, want string }{
		{"go.mod", l.Modules.GoModSHA256},
		{"go.sum", l.Modules.GoSumSHA256},
		{ToolsModFile, l.Tools.ModSHA256},
		{ToolsSumFile, l.Tools.SumSHA256},
	} {
		got, err := fileSHA256(filepath.Join(moduleDir, filepath.FromSlash(f.name)))
		if err != nil {
			errs = append(errs, fmt.Errorf("lock: %w", err))
			continue
		}
		if got != f.want {
			errs = append(errs, fmt.Errorf("lock: %s hash is %s, %s says %s; run `go tool mage lock` if this change is intended", f.name, got, File, f.want))
		}
	}
	if v, err := o.requiredVersion(ctx, moduleDir, l.Compressor.Module); err != nil {
		errs = append(errs, err)
	} else if v != l.Compressor.Version {
		errs = append(errs, fmt.Errorf("lock: go.mod requires %s %s, %s pins the compressor at %s; run `go tool mage lock` if this change is intended", l.Compressor.Module, v, File, l.Compressor.Version))
	}
	if got, err := o.cachedModulesNixHash(ctx, moduleDir); err != nil {
		errs = append(errs, err)
	} else if got != l.Modules.NixHash {
		errs = append(errs, fmt.Errorf("lock: the module set of go.mod and go.sum has nix hash %s, %s says modules.nix_hash %s; run `go tool mage lock` if go.mod or go.sum changed on purpose", got, File, l.Modules.NixHash))
	}
	for _, m := range []struct {
		modfile, sumfile string
		skipVerify       bool
	}{{"", "go.sum", false}, {ToolsModFile, ToolsSumFile, o.skipToolModules}} {
		errs = append(errs, o.verifyModules(ctx, moduleDir, m.modfile, m.sumfile, m.skipVerify)...)
	}
	if !o.skipToolchain {
		if _, err := Toolchain(ctx, l, opts...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// verifyModules checks the module cache against a sum file: `go mod verify` (run with
// -mod=readonly, so a missing sum is an error, never an update; unless skipVerify) and the
// cache's recorded zip hashes against the sum file's lines.
func (o *options) verifyModules(ctx context.Context, moduleDir, modfile, sumfile string, skipVerify bool) []error {
	args := []string{"mod", "verify"}
	if modfile != "" {
		args = append(args, "-modfile="+modfile)
	}
	var errs []error
	if skipVerify {
		// Left to the tool's build (WithoutToolModules).
	} else if out, err := o.goCmd(ctx, moduleDir, "-mod=readonly", args...); err != nil {
		fix := "run `go clean -modcache` to download the modules again (checked against " + sumfile + ")"
		if o := strings.TrimSpace(string(out)); o != "" {
			err = fmt.Errorf("%w: %s", err, o)
		}
		errs = append(errs, fmt.Errorf("lock: the module cache does not match %s: %w; %s", sumfile, err, fix))
	}
	gomodcache, err := o.goCmd(ctx, moduleDir, "", "env", "GOMODCACHE")
	if err != nil {
		return append(errs, fmt.Errorf("lock: %w", err))
	}
	cache := strings.TrimSpace(string(gomodcache))
	sums, err := os.ReadFile(filepath.Join(moduleDir, filepath.FromSlash(sumfile)))
	if err != nil {
		return append(errs, fmt.Errorf("lock: %w", err))
	}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("lock: %s:%d: malformed line %q, want \"<module> <version> h1:<hash>\"; restore it from git", sumfile, n, sc.Text()))
			continue
		}
		if strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		mod, ver, sum := f[0], f[1], f[2]
		ep, err1 := escapePath(mod)
		ev, err2 := escapePath(ver)
		if err1 != nil || err2 != nil {
			errs = append(errs, fmt.Errorf("lock: %s:%d: malformed module path or version in %q; restore it from git", sumfile, n, sc.Text()))
			continue
		}
		recorded, err := os.ReadFile(filepath.Join(cache, "cache", "download", filepath.FromSlash(ep), "@v", ev+".ziphash"))
		if errors.Is(err, os.ErrNotExist) {
			continue // not downloaded: the go command checks it against go.sum when it is
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("lock: %w", err))
			continue
		}
		if got := strings.TrimSpace(string(recorded)); got != sum {
			errs = append(errs, fmt.Errorf("lock: the module cache holds %s@%s with hash %s, %s:%d says %s; restore %s from git if it was edited, else run `go clean -modcache`", mod, ver, got, sumfile, n, sum, sumfile))
		}
	}
	return errs
}

// escapePath applies the module cache's case encoding: each upper-case letter becomes '!'
// and its lower-case form.
func escapePath(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '!' || r >= unicode.MaxASCII || r < ' ' || r == '\\' || r == ':':
			return "", fmt.Errorf("invalid character %q", r)
		case 'A' <= r && r <= 'Z':
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	if strings.Contains(s, "..") {
		return "", errors.New("invalid path")
	}
	return b.String(), nil
}
