package images

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Well-known OCI annotation keys written on manifests and indexes.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationVersion  = "org.opencontainers.image.version"
	AnnotationCreated  = "org.opencontainers.image.created"
	AnnotationRefName  = "org.opencontainers.image.ref.name"
)

// RunAs is the numeric non-root user and group every image runs as (distroless "nonroot").
const RunAs = "65532:65532"

// runUID and runGID own the data directories; they match RunAs.
const runUID, runGID = 65532, 65532

// BinDir is the directory of the image that holds the service binary.
const BinDir = "/usr/local/bin"

// Platform is one target platform. The one value fills both the image config and the
// index entry, so they cannot disagree.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String returns the platform as os/arch[/variant], for example "linux/arm/v7".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Dir returns the platform as a directory name, for example "linux_arm_v7".
func (p Platform) Dir() string { return strings.ReplaceAll(p.String(), "/", "_") }

// V1 returns the platform as go-containerregistry's type.
func (p Platform) V1() *v1.Platform {
	return &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// Spec describes one service's image, independent of platform.
type Spec struct {
	// Name is the service name: the binary is /usr/local/bin/<Name>, the entrypoint.
	Name string
	// Ports are the exposed ports, such as "8080/tcp".
	Ports []string
	// DataDirs are absolute directories created in the layer, owned by the run-time user.
	DataDirs []string
	// Source, Revision and Version fill the OCI annotations of the same names.
	Source, Revision, Version string
}

// Binary is one platform's build of the service binary.
type Binary struct {
	Platform Platform
	Data     []byte
}

// Compressor names the layer compressor. Module and Version are the ones pinned in go.mod
// and the lock; they go into the cache key and the release record. The code always uses
// github.com/klauspost/compress/gzip as linked into this binary.
type Compressor struct {
	Module  string
	Version string
	Level   int
}

// DefaultCompressor is the compressor the lock pins; callers pass the lock's values.
var DefaultCompressor = Compressor{Module: "github.com/klauspost/compress", Version: "v1.20.3", Level: 6}

// CachedLayer is a compressed layer and the digest of its uncompressed form.
type CachedLayer struct {
	DiffID     v1.Hash
	Compressed []byte
}

// Cache stores compressed layers by a content-addressed key (see LayerKey). Get returns
// ok=false for a miss. Implementations must return exactly the bytes that were Put.
// Compressing a 10 MB binary takes about a second; a Cache lets a rerun with nothing changed
// skip it. It is an interface so that this package stays free of disk I/O (the release's is
// release.DiskCache).
type Cache interface {
	Get(key string) (layer CachedLayer, ok bool, err error)
	Put(key string, layer CachedLayer) error
}

// Option configures Index.
type Option func(*options) error

type options struct {
	cache      Cache
	compressor Compressor
}

// WithCache makes Index reuse and store compressed layers in c.
func WithCache(c Cache) Option {
	return func(o *options) error { o.cache = c; return nil }
}

// WithCompressor sets the compressor (the lock's); the default is DefaultCompressor.
func WithCompressor(c Compressor) Option {
	return func(o *options) error {
		if c.Level < 1 || c.Level > 9 {
			return fmt.Errorf("gzip level %d: want 1..9 (the lock's compressor level)", c.Level)
		}
		o.compressor = c
		return nil
	}
}

// Index assembles the multi-arch image index of spec from one binary per platform, in the
// order given (the release passes amd64, then arm/v7). epoch is the release's one
// timestamp; it must not be the zero time. What the index holds, exactly:
//
//   - Per platform, one image FROM scratch with one layer, LayerTar's (the binary at
//     /usr/local/bin/<Name>, the DataDirs), gzip-compressed by
//     github.com/klauspost/compress/gzip (the version pinned in go.mod and named in the
//     lock) at the Compressor's level (the lock's, 6), with an empty gzip header (no name,
//     no mtime).
//   - Its config: os, architecture and variant from the binary's Platform (the same value
//     fills the index entry), created = epoch (RFC 3339, UTC), User RunAs, Entrypoint
//     [/usr/local/bin/<Name>], ExposedPorts, one history entry dated at epoch.
//   - OCI media types everywhere (index, manifest, config, gzip layer). The manifests and
//     the index carry the annotation org.opencontainers.image.created and, where spec sets
//     them, org.opencontainers.image.{source,revision,version}.
//
// JSON is written by encoding/json from structs, whose field order is fixed and whose map
// keys are sorted, so the bytes are canonical. With WithCache, a layer whose LayerKey is in
// the cache is not compressed again.
func Index(spec Spec, bins []Binary, epoch time.Time, opts ...Option) (v1.ImageIndex, error) {
	o := options{compressor: DefaultCompressor}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := spec.check(); err != nil {
		return nil, err
	}
	if epoch.IsZero() || epoch.Unix() < 0 {
		return nil, fmt.Errorf("image %s: epoch is %v, want a time after 1970 (SOURCE_DATE_EPOCH or the commit time)", spec.Name, epoch)
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("image %s: no binaries given, want one per platform", spec.Name)
	}
	epoch = epoch.UTC().Truncate(time.Second)
	seen := map[Platform]bool{}
	idx := &index{images: map[v1.Hash]*image{}}
	im := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
		Annotations:   spec.annotations(epoch),
	}
	for _, b := range bins {
		if seen[b.Platform] {
			return nil, fmt.Errorf("image %s: two binaries for %s, want one", spec.Name, b.Platform)
		}
		seen[b.Platform] = true
		img, err := buildImage(spec, b, epoch, o)
		if err != nil {
			return nil, fmt.Errorf("assembling %s for %s: %w", spec.Name, b.Platform, err)
		}
		idx.images[img.digest] = img
		im.Manifests = append(im.Manifests, v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Size:      int64(len(img.rawManifest)),
			Digest:    img.digest,
			Platform:  b.Platform.V1(),
		})
	}
	raw, err := json.Marshal(im)
	if err != nil {
		return nil, fmt.Errorf("encoding index: %w", err)
	}
	idx.raw = raw
	idx.digest = sha(raw)
	return idx, nil
}

func (s Spec) check() error {
	if s.Name == "" || strings.ContainsAny(s.Name, "/ \t\n") {
		return fmt.Errorf("image name %q: want a service name without slashes or spaces", s.Name)
	}
	for _, p := range s.Ports {
		if !strings.HasSuffix(p, "/tcp") && !strings.HasSuffix(p, "/udp") {
			return fmt.Errorf("image %s: port %q: want <number>/tcp or <number>/udp", s.Name, p)
		}
	}
	for _, d := range s.DataDirs {
		if !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
			return fmt.Errorf("image %s: data dir %q: want a clean absolute path", s.Name, d)
		}
	}
	return nil
}

func (s Spec) annotations(epoch time.Time) map[string]string {
	a := map[string]string{AnnotationCreated: epoch.Format(time.RFC3339)}
	if s.Source != "" {
		a[AnnotationSource] = s.Source
	}
	if s.Revision != "" {
		a[AnnotationRevision] = s.Revision
	}
	if s.Version != "" {
		a[AnnotationVersion] = s.Version
	}
	return a
}

// LayerKey is the cache key of a layer: a digest over everything that can change its
// bytes (the layer format revision, the compressor, the file list, the epoch and the
// binary's SHA-256).
func LayerKey(spec Spec, binarySHA256 string, epoch time.Time, c Compressor) string {
	dirs := append([]string(nil), spec.DataDirs...)
	sort.Strings(dirs)
	k := struct {
		Format     int
		Compressor Compressor
		Name       string
		DataDirs   []string
		Epoch      int64
		Binary     string
	}{1, c, spec.Name, dirs, epoch.Unix(), binarySHA256}
	b, _ := json.Marshal(k) // a struct of strings and ints always encodes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func buildImage(spec Spec, b Binary, epoch time.Time, o options) (*image, error) {
	if len(b.Data) == 0 {
		return nil, errors.New("binary is empty")
	}
	l, err := binaryLayer(spec, b, epoch, o)
	if err != nil {
		return nil, err
	}
	rawCfg, err := json.Marshal(config(spec, b.Platform, l.diffID, epoch))
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{
			MediaType: types.OCIConfigJSON,
			Size:      int64(len(rawCfg)),
			Digest:    sha(rawCfg),
		},
		Layers: []v1.Descriptor{{
			MediaType: types.OCILayer,
			Size:      int64(len(l.compressed)),
			Digest:    l.digest,
		}},
		Annotations: spec.annotations(epoch),
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	img := &image{rawConfig: rawCfg, rawManifest: rawManifest, layer: l, digest: sha(rawManifest)}
	img.v1, err = partial.CompressedToImage(img)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// binaryLayer is the image's one layer: from the cache by LayerKey, else written
// (LayerTar), compressed and put in the cache.
func binaryLayer(spec Spec, b Binary, epoch time.Time, o options) (*layer, error) {
	binSum := sha256.Sum256(b.Data)
	key := LayerKey(spec, hex.EncodeToString(binSum[:]), epoch, o.compressor)
	var cl CachedLayer
	hit := false
	if o.cache != nil {
		var err error
		cl, hit, err = o.cache.Get(key)
		if err != nil {
			return nil, fmt.Errorf("reading layer cache: %w", err)
		}
	}
	if !hit {
		tarball, err := LayerTar(spec, b.Data, epoch)
		if err != nil {
			return nil, err
		}
		gz, err := compress(tarball, o.compressor.Level)
		if err != nil {
			return nil, err
		}
		cl = CachedLayer{DiffID: sha(tarball), Compressed: gz}
		if o.cache != nil {
			if err := o.cache.Put(key, cl); err != nil {
				return nil, fmt.Errorf("writing layer cache: %w", err)
			}
		}
	}
	return &layer{compressed: cl.Compressed, digest: sha(cl.Compressed), diffID: cl.DiffID}, nil
}

// config is the image config of spec's binary for p, its layer diffID.
func config(spec Spec, p Platform, diffID v1.Hash, epoch time.Time) v1.ConfigFile {
	ports := map[string]struct{}{}
	for _, port := range spec.Ports {
		ports[port] = struct{}{}
	}
	if len(ports) == 0 {
		ports = nil
	}
	entry := path.Join(BinDir, spec.Name)
	return v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: epoch},
		History: []v1.History{{
			Created:   v1.Time{Time: epoch},
			CreatedBy: "cairn images: " + entry,
			Comment:   "static binary " + spec.Name + " for " + p.String(),
		}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		Config: v1.Config{
			User:         RunAs,
			Entrypoint:   []string{entry},
			ExposedPorts: ports,
			// No PATH, no HOME: the binary needs neither (CA roots and zoneinfo are
			// compiled in) and scratch has no shell.
		},
	}
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// layer is a gzip-compressed layer held in memory.
type layer struct {
	compressed     []byte
	digest, diffID v1.Hash
}

var _ v1.Layer = (*layer)(nil)

func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *layer) Uncompressed() (io.ReadCloser, error) { return decompress(l.compressed) }
func (l *layer) Size() (int64, error)                 { return int64(len(l.compressed)), nil }
func (l *layer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }

// image is a single-layer image held in memory; partial turns it into a v1.Image.
type image struct {
	v1          v1.Image
	rawConfig   []byte
	rawManifest []byte
	digest      v1.Hash
	layer       *layer
}

func (i *image) RawConfigFile() ([]byte, error)      { return i.rawConfig, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.rawManifest, nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	switch h {
	case i.layer.digest:
		return i.layer, nil
	case sha(i.rawConfig):
		return partial.ConfigLayer(i)
	}
	return nil, fmt.Errorf("image has no blob %s", h)
}

// index is a multi-arch index of in-memory images.
type index struct {
	raw    []byte
	digest v1.Hash
	images map[v1.Hash]*image
}

var _ v1.ImageIndex = (*index)(nil)

func (x *index) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
func (x *index) Digest() (v1.Hash, error)            { return x.digest, nil }
func (x *index) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *index) RawManifest() ([]byte, error)        { return x.raw, nil }
func (x *index) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}
func (x *index) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img.v1, nil
	}
	return nil, fmt.Errorf("index has no image %s", h)
}
func (x *index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index has no child index %s", h)
}
