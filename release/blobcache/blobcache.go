// Package blobcache is the release's one disk cache: entries written whole or not at all,
// checked against their SHA-256 every time they are read. The layer cache and the binary
// cache of ~/.cache/cairn are both a Dir.
package blobcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is a cache in a directory: <Path>/<key><Ext> holds a line "<label> sha256:<hex>" and
// then the body whose SHA-256 that is. Entries are written to a temporary file and renamed,
// so a killed writer never leaves a partial entry; an entry whose body does not match its
// recorded digest, or that cannot be parsed, is a miss, and the next Put replaces it.
type Dir struct {
	Path, Ext string
}

func (d Dir) file(key string) string { return filepath.Join(d.Path, key+d.Ext) }

// Get returns the entry of key: its label and body; ok is false for a miss.
func (d Dir) Get(key string) (label string, body []byte, ok bool, err error) {
	b, err := os.ReadFile(d.file(key))
	if os.IsNotExist(err) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("reading the cache: %w", err)
	}
	head, rest, found := strings.Cut(string(b), "\n")
	f := strings.Fields(head)
	if !found || len(f) != 2 || !strings.HasPrefix(f[1], "sha256:") {
		return "", nil, false, nil
	}
	sum := sha256.Sum256([]byte(rest))
	if f[1] != "sha256:"+hex.EncodeToString(sum[:]) {
		return "", nil, false, nil // damaged entry: a miss
	}
	return f[0], []byte(rest), true, nil
}

// Put stores body under key with label (one word).
func (d Dir) Put(key, label string, body []byte) error {
	if label == "" || strings.ContainsAny(label, " \t\n") {
		return fmt.Errorf("cache label %q: want one word", label)
	}
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("creating the cache: %w", err)
	}
	sum := sha256.Sum256(body)
	f, err := os.CreateTemp(d.Path, "tmp-*")
	if err != nil {
		return fmt.Errorf("writing the cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := fmt.Fprintf(f, "%s sha256:%s\n", label, hex.EncodeToString(sum[:])); err != nil {
		f.Close()
		return fmt.Errorf("writing the cache: %w", err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("writing the cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the cache: %w", err)
	}
	if err := os.Rename(f.Name(), d.file(key)); err != nil {
		return fmt.Errorf("storing the cache entry: %w", err)
	}
	return nil
}
