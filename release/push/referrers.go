package push

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// referrers reads the bundles of dir (dist/bundles/<svc>) and returns their referrer
// manifests: each bundle's statement names its subject, which must be the index or one of
// its platform manifests; created is the release epoch. A directory that does not exist holds
// no bundles (a release from before them).
func referrers(dir string, idx v1.ImageIndex, created time.Time) ([]*sign.Referrer, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	subjects, err := descriptors(idx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), attest.BundleSuffix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []*sign.Referrer
	for _, n := range names {
		r, err := referrerOf(filepath.Join(dir, n), subjects, created)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// referrerOf returns the referrer manifest of the bundle in file, whose statement must be
// about one of subjects.
func referrerOf(file string, subjects map[v1.Hash]v1.Descriptor, created time.Time) (*sign.Referrer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	st, err := bundleStatement(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// The first subject that is the index or one of its images: a statement about several
	// (a rebuild verdict names the index, then its images) is attached to the first.
	var subject *v1.Descriptor
	for _, s := range st.Subject {
		for alg, hex := range s.Digest {
			if d, ok := subjects[v1.Hash{Algorithm: alg, Hex: hex}]; ok && subject == nil {
				subject = &d
			}
		}
	}
	if subject == nil {
		return nil, fmt.Errorf("%s is about %v, which is neither the index nor one of its images", file, st.Subject)
	}
	return sign.NewReferrer(*subject, b, st.PredicateType, created)
}

// bundleStatement reads the statement of a bundle without verifying it (push has no key; the
// audit and cosign verify).
func bundleStatement(b []byte) (*attest.Statement, error) {
	_, payload, err := sign.BundlePayload(b)
	if err != nil {
		return nil, err
	}
	return attest.ParseStatement(payload)
}

// descriptors maps the index's digest and its manifests' digests to their descriptors.
func descriptors(idx v1.ImageIndex) (map[v1.Hash]v1.Descriptor, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, err
	}
	out := map[v1.Hash]v1.Descriptor{d: {MediaType: mt, Size: int64(len(raw)), Digest: d}}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, desc := range m.Manifests {
		out[desc.Digest] = v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}
	}
	return out, nil
}

// pushReferrers pushes each referrer's blobs (the bundle, the empty config), then the
// manifest by digest. go-containerregistry puts the manifest through the referrers API, or,
// on a registry without it (distribution 2.8), adds it to the referrers tag schema's index
// (tag sha256-<subject hex>), as cosign does.
func pushReferrers(repo name.Repository, refs []*sign.Referrer, ropts []remote.Option) error {
	for _, r := range refs {
		for _, l := range []v1.Layer{static.NewLayer(r.Bundle, sign.BundleMediaType), static.NewLayer(sign.EmptyJSON, sign.EmptyMediaType)} {
			if err := remote.WriteLayer(repo, l, ropts...); err != nil {
				return fmt.Errorf("pushing bundle blob: %w", err)
			}
		}
		if err := remote.Put(repo.Digest(r.Digest.String()), r, ropts...); err != nil {
			return fmt.Errorf("pushing referrer %s: %w", r.Digest, err)
		}
	}
	return nil
}
