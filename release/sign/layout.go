package sign

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations of cosign's on-disk layout (cosign pkg/oci/layout): the stock CLI finds the
// image index, its signatures and its attestations by the "kind" annotation in index.json.
const (
	KindAnnotation    = "kind"
	KindImageIndex    = "dev.cosignproject.cosign/imageIndex"
	KindSignatures    = "dev.cosignproject.cosign/sigs"
	KindAttestations  = "dev.cosignproject.cosign/atts"
	RefNameAnnotation = "org.opencontainers.image.ref.name"
)

// WriteLayout writes idx and its evidence to the new directory dir in cosign's layout format,
// so that `cosign verify --local-image dir` and `cosign verify-attestation --local-image dir`
// work offline. evidence[0] must be the index's own; the others (one per platform manifest)
// are stored beside it under their cosign tag names, without a kind, which cosign ignores.
// Every entry carries its tag as org.opencontainers.image.ref.name, in a fixed order:
// the index (named name), then per subject its .sig and .att.
func WriteLayout(dir, name string, idx v1.ImageIndex, evidence []Evidence) error {
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("writing cosign layout: %w", err)
	}
	if len(evidence) == 0 || evidence[0].Subject != d {
		return fmt.Errorf("writing cosign layout: expected evidence for the index %s first", d)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("writing cosign layout: %s already exists; write into a fresh directory", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing cosign layout: %w", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		KindAnnotation: KindImageIndex, RefNameAnnotation: name,
	})); err != nil {
		return fmt.Errorf("writing cosign layout: %w", err)
	}
	for i, ev := range evidence {
		for _, e := range []struct {
			img    v1.Image
			suffix string
			kind   string
		}{{ev.Signatures, SignatureSuffix, KindSignatures}, {ev.Attestations, AttestationSuffix, KindAttestations}} {
			if e.img == nil {
				continue
			}
			ann := map[string]string{RefNameAnnotation: Tag(ev.Subject, e.suffix)}
			if i == 0 {
				ann[KindAnnotation] = e.kind
			}
			if err := p.AppendImage(e.img, layout.WithAnnotations(ann)); err != nil {
				return fmt.Errorf("writing cosign layout: %w", err)
			}
		}
	}
	return nil
}

// Layout is a read-only view of an OCI layout by tag name.
type Layout struct {
	path  layout.Path
	index v1.ImageIndex
	m     *v1.IndexManifest
}

// OpenLayout opens the OCI layout in dir.
func OpenLayout(dir string) (*Layout, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	m, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	return &Layout{path: p, index: ii, m: m}, nil
}

// Names returns the ref names of the layout's image indexes, in index.json order.
func (l *Layout) Names() []string {
	var names []string
	for _, d := range l.m.Manifests {
		if d.MediaType.IsIndex() && d.Annotations[RefNameAnnotation] != "" {
			names = append(names, d.Annotations[RefNameAnnotation])
		}
	}
	return names
}

// Index returns the image index named name, or with name "" the one cosign would pick
// (kind imageIndex), else the only index in the layout.
func (l *Layout) Index(name string) (v1.ImageIndex, error) {
	var found []v1.Descriptor
	for _, d := range l.m.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		switch {
		case name != "" && d.Annotations[RefNameAnnotation] == name:
			return l.index.ImageIndex(d.Digest)
		case name == "" && d.Annotations[KindAnnotation] == KindImageIndex:
			return l.index.ImageIndex(d.Digest)
		case name == "":
			found = append(found, d)
		}
	}
	if name == "" && len(found) == 1 {
		return l.index.ImageIndex(found[0].Digest)
	}
	if name == "" {
		return nil, fmt.Errorf("finding image index: expected one index in the layout, found %d; name one with DIR:NAME", len(found))
	}
	return nil, fmt.Errorf("finding image index: no index named %q in the layout", name)
}

// Image returns the image tagged tag (ref name), or nil if there is none.
func (l *Layout) Image(tag string) (v1.Image, error) {
	for _, d := range l.m.Manifests {
		if d.Annotations[RefNameAnnotation] == tag && d.MediaType.IsImage() {
			return l.index.Image(d.Digest)
		}
	}
	return nil, nil
}

// LinkBlobs replaces each blob of the OCI layout dir that the layout shared also holds (the
// same digest, so the same bytes) with a hard link to shared's, so that dist/ keeps each
// blob once. Readers see the same files; each link is made beside the blob and renamed over
// it, so a blob is never missing. It returns the bytes saved.
func LinkBlobs(dir, shared string) (int64, error) {
	blobs := filepath.Join(dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		return 0, fmt.Errorf("linking blobs of %s: %w", dir, err)
	}
	var saved int64
	for _, e := range entries {
		src := filepath.Join(shared, "blobs", "sha256", e.Name())
		dst := filepath.Join(blobs, e.Name())
		si, err := os.Stat(src)
		if err != nil {
			continue // not in shared: this layout's own (signatures, attestations)
		}
		di, err := os.Stat(dst)
		if err != nil {
			return saved, fmt.Errorf("linking blobs of %s: %w", dir, err)
		}
		if os.SameFile(si, di) {
			continue
		}
		if si.Size() != di.Size() {
			return saved, fmt.Errorf("linking blobs of %s: %s has %d bytes there and %d in %s; one of the layouts is damaged", dir, e.Name(), di.Size(), si.Size(), shared)
		}
		tmp := dst + ".link"
		if err := os.Link(src, tmp); err != nil {
			return saved, fmt.Errorf("linking blobs of %s: %w", dir, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return saved, fmt.Errorf("linking blobs of %s: %w", dir, err)
		}
		saved += di.Size()
	}
	return saved, nil
}
