package lock

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Toolchain returns the GOROOT of the Go toolchain l pins for the host: <GOROOT>/bin/go runs
// exactly l.Go.Version, whatever Go the host has.
//
// On first use it downloads the golang.org/toolchain module zip through the module proxy
// (`go mod download`, which also checks the checksum database), checks the zip's SHA-256
// and the module's h1 sum against the lock, and unpacks it into the cache directory
// (WithCacheDir) the way cmd/go does: execute bits on bin/, pkg/tool/ and lib's exec
// wrappers, src/**/_go.mod copied to go.mod.
//
// Every call, the first included, re-hashes the unpacked tree and compares it with the
// lock's h1 sum (the unpacked files are exactly the zip's, plus the go.mod copies, which
// must equal their _go.mod): a tree changed after unpacking is refused, not used. That costs
// a read of the tree (about 250 MB) per call, the price of not trusting a writable directory.
func Toolchain(ctx context.Context, l *Lock, opts ...Option) (goroot string, err error) {
	o, err := newOptions(opts)
	if err != nil {
		return "", err
	}
	a, err := l.Archive(o.goos, o.goarch)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(o.cacheDir, a.ModuleVersion)
	if _, err := os.Stat(dir); err == nil {
		if err := verifyTree(dir, a); err != nil {
			return "", err
		}
		return dir, nil
	}
	zipPath, err := o.downloadToolchain(ctx, l.Go.Version, o.goos+"-"+o.goarch, a)
	if err != nil {
		return "", err
	}
	if err := unpack(zipPath, dir, a); err != nil {
		return "", err
	}
	return dir, nil
}

// download is what `go mod download -json` prints for one module.
type download struct {
	Path, Version, Error, Zip, Sum string
}

// downloadToolchain fetches the toolchain zip through the proxy into the module cache,
// checks its h1 and SHA-256 against a, and returns the zip's path.
func (o *options) downloadToolchain(ctx context.Context, goVersion, platform string, a Archive) (string, error) {
	d, err := o.modDownload(ctx, goVersion, platform, a.ModuleVersion)
	if err != nil {
		return "", err
	}
	if d.Sum != a.H1 {
		return "", fmt.Errorf("lock: toolchain archive %s@%s has module sum %s, %s says %s; run `go tool mage lock` if the lock is wrong, else do not use this proxy", ToolchainModule, a.ModuleVersion, d.Sum, File, a.H1)
	}
	sum, err := fileSHA256(d.Zip)
	if err != nil {
		return "", err
	}
	if sum != a.ZipSHA256 {
		return "", fmt.Errorf("lock: toolchain archive %s hash is %s, %s says %s; run `go clean -modcache` to fetch it again, or `go tool mage lock` if the lock is wrong", d.Zip, sum, File, a.ZipSHA256)
	}
	return d.Zip, nil
}

// modDownload runs `go mod download -json golang.org/toolchain@<moduleVersion>` in a
// throwaway module.
func (o *options) modDownload(ctx context.Context, goVersion, platform, moduleVersion string) (*download, error) {
	tmp, err := os.MkdirTemp("", "cairn-toolchain-")
	if err != nil {
		return nil, fmt.Errorf("downloading toolchain: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module cairn.invalid/toolchain\n"), 0o644); err != nil {
		return nil, fmt.Errorf("downloading toolchain: %w", err)
	}
	out, runErr := o.goCmd(ctx, tmp, "-mod=mod", "mod", "download", "-json", ToolchainModule+"@"+moduleVersion)
	var d download
	if err := json.Unmarshal(out, &d); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("lock: downloading Go toolchain %s for %s: %w", goVersion, platform, runErr)
		}
		return nil, fmt.Errorf("lock: downloading Go toolchain %s for %s: decoding go mod download output: %w", goVersion, platform, err)
	}
	if d.Error != "" || runErr != nil {
		msg := d.Error
		if msg == "" {
			msg = runErr.Error()
		}
		return nil, fmt.Errorf("lock: the module proxy cannot serve Go toolchain %s for %s (%s@%s): %s; pin a released Go version in %s (go.version) and run `go tool mage lock`", goVersion, platform, ToolchainModule, moduleVersion, msg, File)
	}
	if d.Zip == "" {
		return nil, fmt.Errorf("lock: downloading Go toolchain %s for %s: go mod download named no zip", goVersion, platform)
	}
	return &d, nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", name, err)
	}
	return sha256String(h.Sum(nil)), nil
}

// unpack extracts the toolchain zip into dir (through a temporary sibling renamed at the
// end, so that dir either is complete or does not exist) and checks the result.
func unpack(zipPath, dir string, a Archive) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("unpacking toolchain: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("unpacking toolchain: %w", err)
	}
	defer os.RemoveAll(tmp)
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("unpacking toolchain %s: %w", zipPath, err)
	}
	defer zr.Close()
	prefix := ToolchainModule + "@" + a.ModuleVersion + "/"
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || rel == "" || !fs.ValidPath(rel) || strings.HasSuffix(f.Name, "/") {
			return fmt.Errorf("unpacking toolchain %s: unexpected entry %q", zipPath, f.Name)
		}
		if err := extract(f, filepath.Join(tmp, filepath.FromSlash(rel)), executable(rel)); err != nil {
			return fmt.Errorf("unpacking toolchain %s: %w", zipPath, err)
		}
	}
	// A module zip cannot hold nested go.mod files, so GOROOT/src's are shipped as _go.mod;
	// cmd/go copies them back when it unpacks a toolchain, and so do we.
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "_go.mod" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(filepath.Dir(p), "go.mod"), b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("unpacking toolchain: %w", err)
	}
	if err := verifyTree(tmp, a); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have unpacked the same toolchain meanwhile; use it if it checks out.
		if _, statErr := os.Stat(dir); statErr == nil {
			return verifyTree(dir, a)
		}
		return fmt.Errorf("unpacking toolchain: %w", err)
	}
	return nil
}

// executable reports whether cmd/go would set the execute bits on the GOROOT file rel.
func executable(rel string) bool {
	switch {
	case strings.HasPrefix(rel, "bin/"), strings.HasPrefix(rel, "pkg/tool/"):
		return true
	case strings.HasPrefix(rel, "lib/"):
		ok, _ := path.Match("go_?*_?*_exec", path.Base(rel))
		return ok
	}
	return false
}

func extract(f *zip.File, dst string, exec bool) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// verifyTree checks that the unpacked toolchain in dir is exactly the module a: its h1 sum
// over every file but the go.mod copies, which must equal their _go.mod.
func verifyTree(dir string, a Archive) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.Name() == "go.mod" {
			src, err1 := os.ReadFile(filepath.Join(filepath.Dir(p), "_go.mod"))
			cp, err2 := os.ReadFile(p)
			if err1 == nil && err2 == nil && string(src) == string(cp) {
				return nil
			}
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return fmt.Errorf("lock: checking the unpacked toolchain %s: %w; delete it and retry", dir, err)
	}
	prefix := ToolchainModule + "@" + a.ModuleVersion
	h1, err := Hash1(files, prefix, func(name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	})
	if err != nil {
		return fmt.Errorf("lock: checking the unpacked toolchain %s: %w; delete it and retry", dir, err)
	}
	if h1 != a.H1 {
		return fmt.Errorf("lock: the unpacked toolchain %s has module sum %s, %s says %s: it was changed after unpacking; delete %s and retry", dir, h1, File, a.H1, dir)
	}
	return nil
}

// Hash1 computes the module sum ("h1:...") of the files (slash-separated, relative), named
// prefix/<file> in the hash: the algorithm of golang.org/x/mod/sumdb/dirhash.Hash1.
func Hash1(files []string, prefix string, open func(string) (io.ReadCloser, error)) (string, error) {
	sorted := append([]string(nil), files...)
	slices.Sort(sorted)
	h := sha256.New()
	for _, file := range sorted {
		name := prefix + "/" + file
		if strings.Contains(name, "\n") {
			return "", errors.New("dirhash: filenames with newlines are not supported")
		}
		r, err := open(file)
		if err != nil {
			return "", err
		}
		hf := sha256.New()
		_, err = io.Copy(hf, r)
		r.Close()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%x  %s\n", hf.Sum(nil), name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}
