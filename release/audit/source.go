package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// source is where an image and its cosign tags are read from.
type source interface {
	index() (v1.ImageIndex, error)
	// image returns the image tagged tag beside the index, nil if there is none.
	image(tag string) (v1.Image, error)
	// bundles returns the Sigstore bundles attached to d, none if there are none.
	bundles(d v1.Hash) ([]found, error)
}

// found is one Sigstore bundle attached to an image: the subject its referrer names (for a
// file, the subject its statement names) and its bytes, not yet verified.
type found struct {
	subject v1.Hash
	where   string
	data    []byte
}

// Open parses ref: "oci:DIR", "oci:DIR:NAME", a directory holding an OCI layout, or a
// registry reference by tag or digest.
func Open(ctx context.Context, ref string, o Options) (source, error) {
	if dir, ok := strings.CutPrefix(ref, "oci:"); ok {
		nameInLayout := ""
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			if i := strings.LastIndex(dir, ":"); i > 0 {
				dir, nameInLayout = dir[:i], dir[i+1:]
			}
		}
		return openLayout(dir, nameInLayout, o.Bundles)
	}
	if fi, err := os.Stat(filepath.Join(ref, "oci-layout")); err == nil && !fi.IsDir() {
		return openLayout(ref, "", o.Bundles)
	}
	r, err := name.ParseReference(ref, o.NameOptions...)
	if err != nil {
		return nil, fmt.Errorf("audit: expected an image reference (REGISTRY/REPO:TAG, REGISTRY/REPO@sha256:..., oci:DIR), found %q: %w", ref, err)
	}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.Remote...)
	return &registry{ref: r, opts: ropts}, nil
}

type layoutSource struct {
	l               *sign.Layout
	name, bundleDir string
}

func openLayout(dir, nameInLayout, bundleDir string) (source, error) {
	l, err := sign.OpenLayout(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &layoutSource{l: l, name: nameInLayout, bundleDir: bundleDir}, nil
}

func (s *layoutSource) index() (v1.ImageIndex, error)      { return s.l.Index(s.name) }
func (s *layoutSource) image(tag string) (v1.Image, error) { return s.l.Image(tag) }

// bundles of a layout are the files of Options.Bundles, if given: an OCI layout holds no
// referrers.
func (s *layoutSource) bundles(d v1.Hash) ([]found, error) {
	if s.bundleDir == "" {
		return nil, nil
	}
	dir := s.bundleDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the bundles: %w", err)
	}
	var out []found
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), attest.BundleSuffix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		// The file's subject is its statement's, read unverified to pick the files of d.
		if unverified(b) == nil {
			return nil, fmt.Errorf("%s is not a Sigstore bundle with an in-toto statement: restore it from the release", e.Name())
		}
		if subjectOf(b) == d {
			out = append(out, found{subject: d, where: e.Name(), data: b})
		}
	}
	return out, nil
}

type registry struct {
	ref  name.Reference
	opts []remote.Option
}

func (s *registry) index() (v1.ImageIndex, error) { return remote.Index(s.ref, s.opts...) }

func (s *registry) image(tag string) (v1.Image, error) {
	img, err := remote.Image(s.ref.Context().Tag(tag), s.opts...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == 404 {
		return nil, nil
	}
	return img, err
}

// bundles lists d's referrers (the referrers API, or the referrers tag schema) and returns
// those that carry one Sigstore bundle. A referrer that names another subject is returned
// with it, for the audit to refuse; a bundle blob whose bytes do not match its digest is an
// error.
func (s *registry) bundles(d v1.Hash) ([]found, error) {
	repo := s.ref.Context()
	idx, err := remote.Referrers(repo.Digest(d.String()), s.opts...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []found
	for _, desc := range m.Manifests {
		got, err := remote.Get(repo.Digest(desc.Digest.String()), s.opts...)
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s: %w", desc.Digest, err)
		}
		subject, _, layer, err := sign.ParseReferrer(got.Manifest)
		if err != nil {
			continue // another kind of referrer
		}
		l, err := remote.Layer(repo.Digest(layer.Digest.String()), s.opts...)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<24))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if h, n, _ := v1.SHA256(bytes.NewReader(b)); h != layer.Digest || n != layer.Size {
			return nil, fmt.Errorf("referrer %s: its bundle blob is %s (%d bytes), the manifest says %s (%d bytes)", desc.Digest, h, n, layer.Digest, layer.Size)
		}
		out = append(out, found{subject: subject.Digest, where: "referrer " + desc.Digest.String(), data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out, nil
}
