package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/images"
)

// DiskCache is an images.Cache in a directory: <dir>/<key>.layer holds
// "<diffid> <digest>\n" followed by the compressed layer. Entries are written to a temporary
// file and renamed, so a killed release never leaves a partial entry; an entry whose bytes do
// not match its recorded digest is ignored and rewritten. verify runs with an empty cache, so a
// poisoned cache cannot make a release pass verification.
type DiskCache struct{ Dir string }

var _ images.Cache = DiskCache{}

func (c DiskCache) path(key string) string { return filepath.Join(c.Dir, key+".layer") }

// Get implements images.Cache.
func (c DiskCache) Get(key string) (images.CachedLayer, bool, error) {
	b, err := os.ReadFile(c.path(key))
	if os.IsNotExist(err) {
		return images.CachedLayer{}, false, nil
	}
	if err != nil {
		return images.CachedLayer{}, false, fmt.Errorf("reading cached layer: %w", err)
	}
	head, body, ok := strings.Cut(string(b), "\n")
	if !ok {
		return images.CachedLayer{}, false, nil
	}
	f := strings.Fields(head)
	if len(f) != 2 {
		return images.CachedLayer{}, false, nil
	}
	diffID, err1 := v1.NewHash(f[0])
	digest, err2 := v1.NewHash(f[1])
	if err1 != nil || err2 != nil {
		return images.CachedLayer{}, false, nil
	}
	sum := sha256.Sum256([]byte(body))
	if digest.Hex != hex.EncodeToString(sum[:]) {
		return images.CachedLayer{}, false, nil // damaged entry: recompute
	}
	return images.CachedLayer{DiffID: diffID, Compressed: []byte(body)}, true, nil
}

// Put implements images.Cache.
func (c DiskCache) Put(key string, l images.CachedLayer) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("creating layer cache: %w", err)
	}
	sum := sha256.Sum256(l.Compressed)
	f, err := os.CreateTemp(c.Dir, "tmp-*")
	if err != nil {
		return fmt.Errorf("creating cached layer: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := fmt.Fprintf(f, "%s sha256:%s\n", l.DiffID, hex.EncodeToString(sum[:])); err != nil {
		f.Close()
		return fmt.Errorf("writing cached layer: %w", err)
	}
	if _, err := f.Write(l.Compressed); err != nil {
		f.Close()
		return fmt.Errorf("writing cached layer: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing cached layer: %w", err)
	}
	if err := os.Rename(f.Name(), c.path(key)); err != nil {
		return fmt.Errorf("storing cached layer: %w", err)
	}
	return nil
}
