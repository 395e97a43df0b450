package lock

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ModulesNixHash returns modules.nix_hash for the module rooted at moduleDir: the SRI hash
// ("sha256-<base64>") of the NAR serialisation of the module proxy tree that flake.nix's
// fixed-output derivation (nix/modules.nix) produces. That derivation, and this function,
// run
//
//	GOMODCACHE=<empty dir> GOSUMDB=off GOFLAGS=-mod=readonly go mod download
//
// in the module and keep, of <GOMODCACHE>/cache/download, exactly the regular files named
// *.mod and *.zip, at the same relative paths: a GOPROXY=file:// tree
// (<escaped module>/@v/<version>.{mod,zip}) holding every go.mod the module graph reads and
// every module zip a build needs. The proxy serves these bytes immutably and go.sum pins
// each of them, so the tree, and its hash, depend on go.mod and go.sum alone. The .info,
// list, lock and ziphash files are left out: the build does not read them, and list and
// .info can change with time. No sum database is consulted (GOSUMDB=off): go.sum already
// holds every hash, and the database's tiles grow with time.
//
// Here the download reads the caller's module cache first (a file:// proxy over
// <GOMODCACHE>/cache/download, the bytes the proxy served) and falls back to the caller's
// GOPROXY, so an up-to-date cache needs no network.
func ModulesNixHash(ctx context.Context, moduleDir string, opts ...Option) (string, error) {
	o, err := newOptions(opts)
	if err != nil {
		return "", err
	}
	return o.modulesNixHash(ctx, moduleDir)
}

// cachedModulesNixHash is modulesNixHash through WithNixHashCache, if set. An entry is
// written to a temporary file and renamed, and one that is not a sha256 SRI hash is ignored.
func (o *options) cachedModulesNixHash(ctx context.Context, moduleDir string) (string, error) {
	if o.nixHashCache == "" {
		return o.modulesNixHash(ctx, moduleDir)
	}
	h := sha256.New()
	fmt.Fprintf(h, "cairn nix modules hash v1\n")
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			return "", fmt.Errorf("lock: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n%s", f, len(b), b)
	}
	entry := filepath.Join(o.nixHashCache, fmt.Sprintf("%x", h.Sum(nil)))
	if b, err := os.ReadFile(entry); err == nil && strings.HasPrefix(string(b), "sha256-") && len(strings.TrimSpace(string(b))) == len("sha256-")+44 {
		return strings.TrimSpace(string(b)), nil
	}
	got, err := o.modulesNixHash(ctx, moduleDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.nixHashCache, 0o755); err == nil {
		if f, err := os.CreateTemp(o.nixHashCache, ".tmp-"); err == nil {
			_, werr := f.WriteString(got + "\n")
			cerr := f.Close()
			if werr == nil && cerr == nil {
				os.Rename(f.Name(), entry)
			}
			os.Remove(f.Name())
		}
	}
	return got, nil
}

func (o *options) modulesNixHash(ctx context.Context, moduleDir string) (string, error) {
	out, err := o.goCmd(ctx, moduleDir, "", "env", "GOMODCACHE", "GOPROXY")
	if err != nil {
		return "", fmt.Errorf("lock: computing the modules' nix hash: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", fmt.Errorf("lock: computing the modules' nix hash: go env printed %q, want GOMODCACHE and GOPROXY", out)
	}
	cache, proxy := strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	tmp, err := os.MkdirTemp("", "cairn-nixmodules-")
	if err != nil {
		return "", fmt.Errorf("lock: computing the modules' nix hash: %w", err)
	}
	defer os.RemoveAll(tmp)
	fresh := filepath.Join(tmp, "mod")
	d := *o
	d.env = maps.Clone(o.env)
	d.env["GOMODCACHE"] = fresh
	d.env["GOSUMDB"] = "off"
	d.env["GOPROXY"] = fileURL(filepath.Join(cache, "cache", "download"))
	if proxy != "" && proxy != "off" {
		d.env["GOPROXY"] += "," + proxy
	}
	// -modcacherw: the fresh cache's unpacked trees stay writable, so RemoveAll can delete them.
	if _, err := d.goCmd(ctx, moduleDir, "-mod=readonly -modcacherw", "mod", "download"); err != nil {
		return "", fmt.Errorf("lock: computing the modules' nix hash: %w", err)
	}
	sum, err := NARHashTree(filepath.Join(fresh, "cache", "download"), func(rel string) bool {
		return strings.HasSuffix(rel, ".mod") || strings.HasSuffix(rel, ".zip")
	})
	if err != nil {
		return "", fmt.Errorf("lock: computing the modules' nix hash: %w", err)
	}
	return sum, nil
}

// fileURL is the file:// URL of an absolute path.
func fileURL(p string) string { return "file://" + filepath.ToSlash(p) }

// NARHashTree returns the SRI hash nix gives (outputHashMode = "recursive") a directory that
// holds exactly the regular files below root for which keep(slash-separated relative path)
// is true, and the directories leading to them: no empty directories, no symlinks, a file
// executable when its owner execute bit is set (nix's canonical permissions). Symlinks and
// other special files below root are an error, never silently left out.
func NARHashTree(root string, keep func(rel string) bool) (string, error) {
	tree := &narNode{children: map[string]*narNode{}}
	paths := map[*narNode]string{}
	exec := map[*narNode]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file or directory", p)
		}
		if !keep(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n := tree
		parts := strings.Split(rel, "/")
		for _, part := range parts[:len(parts)-1] {
			c, ok := n.children[part]
			if !ok {
				c = &narNode{children: map[string]*narNode{}}
				n.children[part] = c
			}
			n = c
		}
		leaf := &narNode{}
		n.children[parts[len(parts)-1]] = leaf
		paths[leaf] = p
		exec[leaf] = info.Mode()&0o100 != 0
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", root, err)
	}
	h := sha256.New()
	w := &narWriter{h: h}
	w.str("nix-archive-1")
	if err := w.tree(tree, paths, exec); err != nil {
		return "", fmt.Errorf("hashing %s: %w", root, err)
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// tree writes a directory node whose leaves are files on disk (paths) rather than zip entries.
func (w *narWriter) tree(n *narNode, paths map[*narNode]string, exec map[*narNode]bool) error {
	w.str("(")
	w.str("type")
	if n.children == nil {
		w.str("regular")
		if exec[n] {
			w.str("executable")
			w.str("")
		}
		w.str("contents")
		f, err := os.Open(paths[n])
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size := uint64(fi.Size())
		w.num(size)
		copied, err := io.Copy(w.h, f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", paths[n], err)
		}
		if uint64(copied) != size {
			return fmt.Errorf("reading %s: got %d bytes, want %d (did it change?)", paths[n], copied, size)
		}
		w.h.Write(narPad[:(8-size%8)%8])
	} else {
		w.str("directory")
		for _, name := range slices.Sorted(maps.Keys(n.children)) {
			w.str("entry")
			w.str("(")
			w.str("name")
			w.str(name)
			w.str("node")
			if err := w.tree(n.children[name], paths, exec); err != nil {
				return err
			}
			w.str(")")
		}
	}
	w.str(")")
	return nil
}
