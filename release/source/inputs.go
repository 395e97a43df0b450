package source

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is one entry of the module tree that a release reads.
type File struct {
	// Rel is the slash-separated path below the module directory.
	Rel string
	// Kind is "file", "exec" (a regular file with an executable bit), "link <target>" or
	// "other <type>".
	Kind string
}

// Regular reports whether f is a regular file (Kind file or exec).
func (f File) Regular() bool { return f.Kind == "file" || f.Kind == "exec" }

// Files lists the module tree under moduleDir as a release reads it, in walk order:
// everything but .git directories (at any depth: a nested repository's history is not a
// build input), the top-level .cairn (keys, caches and scratch; the signing key is an input
// of its own), distDir with everything beside it that belongs to it (its staging
// directories, its lock, dist.verify.json, dist.vsa), and the top-level result* links that
// `nix build` leaves. This is the one definition of the release's input files: the
// up-to-date check hashes them, verify's clean room copies them.
func Files(moduleDir, distDir string) ([]File, error) {
	distParent, distBase := filepath.Dir(distDir), filepath.Base(distDir)
	skip := func(p string, d fs.DirEntry) bool {
		name := d.Name()
		switch {
		case name == ".git", p == distDir, p == filepath.Join(moduleDir, ".cairn"):
			return true
		case filepath.Dir(p) == moduleDir && strings.HasPrefix(name, "result") && d.Type()&fs.ModeSymlink != 0:
			return true
		}
		return filepath.Dir(p) == distParent && (name == "."+distBase+".lock" || strings.HasPrefix(name, distBase+"."))
	}
	var out []File
	err := filepath.WalkDir(moduleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != moduleDir && skip(p, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(moduleDir, p)
		if err != nil {
			return err
		}
		f := File{Rel: filepath.ToSlash(rel)}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			f.Kind = "link " + target
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			f.Kind = "file"
			if info.Mode()&0o111 != 0 {
				f.Kind = "exec"
			}
		default:
			f.Kind = "other " + d.Type().String()
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the module tree: %w", err)
	}
	return out, nil
}
