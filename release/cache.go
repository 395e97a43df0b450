package release

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release/blobcache"
)

// DiskCache is an images.Cache in a directory: <dir>/<key>.layer is a blobcache entry
// labelled with the layer's diff ID whose body is the compressed layer (checked against its
// digest on every read; a damaged entry is recomputed). verify runs with an empty cache, so a
// poisoned cache cannot make a release pass verification.
type DiskCache struct{ Dir string }

var _ images.Cache = DiskCache{}

func (c DiskCache) dir() blobcache.Dir { return blobcache.Dir{Path: c.Dir, Ext: ".layer"} }

// Get implements images.Cache.
func (c DiskCache) Get(key string) (images.CachedLayer, bool, error) {
	label, body, ok, err := c.dir().Get(key)
	if !ok || err != nil {
		return images.CachedLayer{}, false, err
	}
	diffID, err := v1.NewHash(label)
	if err != nil {
		return images.CachedLayer{}, false, nil // not a layer entry: recompute
	}
	return images.CachedLayer{DiffID: diffID, Compressed: body}, true, nil
}

// Put implements images.Cache.
func (c DiskCache) Put(key string, l images.CachedLayer) error {
	return c.dir().Put(key, l.DiffID.String(), l.Compressed)
}
