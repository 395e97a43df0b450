package lock

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
)

// NixHash returns the hash nix's builtins.fetchTarball computes for a toolchain zip, in SRI
// form ("sha256-<base64>"): the SHA-256 of the NAR serialisation of the unpacked tree, with
// the single top-level directory stripped (nix's rule) and a file marked executable when its
// zip mode has the owner's execute bit (nix's canonical permissions). flake.nix then needs
// no other input than lock.json:
//
//	builtins.fetchTarball { url = archive.url; sha256 = archive.nix_hash; }
func NixHash(zipPath string) (string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return "", fmt.Errorf("computing the nix hash of %s: %w", zipPath, err)
	}
	defer zr.Close()
	sum, err := narHash(&zr.Reader)
	if err != nil {
		return "", fmt.Errorf("computing the nix hash of %s: %w", zipPath, err)
	}
	return sum, nil
}

// narNode is a directory (children != nil) or a regular file (file != nil).
type narNode struct {
	children map[string]*narNode
	file     *zip.File
}

func narHash(zr *zip.Reader) (string, error) {
	root := &narNode{children: map[string]*narNode{}}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if name == "" || strings.HasPrefix(name, "/") {
			return "", fmt.Errorf("unexpected entry %q", f.Name)
		}
		parts := strings.Split(name, "/")
		n := root
		for i, p := range parts {
			if p == "" || p == "." || p == ".." {
				return "", fmt.Errorf("unexpected entry %q", f.Name)
			}
			c, ok := n.children[p]
			last := i == len(parts)-1
			switch {
			case !ok && last && !f.FileInfo().IsDir():
				if !f.Mode().IsRegular() {
					return "", fmt.Errorf("entry %q is not a regular file", f.Name)
				}
				c = &narNode{file: f}
			case !ok:
				c = &narNode{children: map[string]*narNode{}}
			case c.children == nil || (last && !f.FileInfo().IsDir()):
				return "", fmt.Errorf("entry %q appears twice", f.Name)
			}
			n.children[p] = c
			n = c
		}
	}
	// fetchTarball requires one top-level entry and uses it as the result.
	if len(root.children) != 1 {
		return "", fmt.Errorf("the archive has %d top-level entries, nix wants exactly 1", len(root.children))
	}
	for _, top := range root.children {
		root = top
	}
	h := sha256.New()
	w := &narWriter{h: h}
	w.str("nix-archive-1")
	if err := w.node(root); err != nil {
		return "", err
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

type narWriter struct{ h hash.Hash }

var narPad [8]byte

func (w *narWriter) num(n uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	w.h.Write(b[:])
}

func (w *narWriter) str(s string) {
	w.num(uint64(len(s)))
	io.WriteString(w.h, s)
	w.h.Write(narPad[:(8-len(s)%8)%8])
}

func (w *narWriter) node(n *narNode) error {
	w.str("(")
	w.str("type")
	if n.file != nil {
		w.str("regular")
		if n.file.Mode()&0o100 != 0 {
			w.str("executable")
			w.str("")
		}
		w.str("contents")
		size := n.file.UncompressedSize64
		w.num(size)
		r, err := n.file.Open()
		if err != nil {
			return err
		}
		copied, err := io.Copy(w.h, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", n.file.Name, err)
		}
		if uint64(copied) != size {
			return fmt.Errorf("reading %s: got %d bytes, the zip says %d", n.file.Name, copied, size)
		}
		w.h.Write(narPad[:(8-size%8)%8])
	} else {
		w.str("directory")
		names := make([]string, 0, len(n.children))
		for name := range n.children {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			w.str("entry")
			w.str("(")
			w.str("name")
			w.str(name)
			w.str("node")
			if err := w.node(n.children[name]); err != nil {
				return err
			}
			w.str(")")
		}
	}
	w.str(")")
	return nil
}
