// Package push copies a signed release from dist/ to a registry: for every service, the
// image index, its platform images, and the cosign signatures and attestations of each, to
// REGISTRY/PREFIX/<svc>.
//
// Order is what makes a failed push harmless: everything is written by digest first (blobs,
// platform manifests, the index, the signature and attestation images), and tags last (the
// cosign sha256-<hex>.sig/.att tags, then the version tag, then latest). A push that fails
// part way leaves no tag pointing at a partial image; pushing again completes it, and pushing
// the same release twice changes nothing (every write is by content).
//
// Tags: every image gets its release version as tag; `latest` is moved only for a plain
// release version vMAJOR.MINOR.PATCH (no pre-release, no -dirty, no git describe suffix),
// so a development push never moves latest.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
)

// Backoff is the retry schedule of transient registry errors: 1s, 2s, 4s, 8s, 16s.
var Backoff = remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5}

// RetryStatusCodes are the HTTP statuses retried as transient.
var RetryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// Options configure a push.
type Options struct {
	// Remote are extra go-containerregistry options (transport, auth); the default keychain
	// and the retry policy are always set first.
	Remote []remote.Option
	// NameOptions parse the destination (name.Insecure for a plain-HTTP test registry).
	NameOptions []name.Option
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Backoff overrides the retry schedule (tests); zero means Backoff.
	Backoff remote.Backoff
	// Verdicts, if set, is a directory of signed rebuild verdicts (<svc>.intoto.json and
	// <svc>.sigstore.json, as `cairn-release verify -vsa-key` writes them): each is added to
	// its index's legacy attestations, after the release's own, and as a referrer beside the
	// release's bundles.
	Verdicts string
	// Bundles, if set, is dist/bundles: <svc>/*.sigstore.json are pushed as OCI 1.1
	// referrers of their subjects, created at Created (the release epoch). Dist sets both.
	Bundles string
	Created time.Time
	// NoLegacy drops cosign's legacy sha256-<hex>.sig and .att tags: the bundles alone.
	// NoBundles drops the bundles: the legacy tags alone, as releases before them.
	NoLegacy, NoBundles bool
}

// Pushed is what was pushed for one service.
type Pushed struct {
	Service string
	Ref     string // REGISTRY/PREFIX/<svc>@sha256:...
	Tags    []string
}

// record is the part of dist/release.json a push needs.
type record struct {
	Version string `json:"version"`
	Dirty   bool   `json:"dirty"`
	Epoch   int64  `json:"epoch"`
	Images  []struct {
		Name  string `json:"name"`
		Index string `json:"index"`
	} `json:"images"`
}

var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// Tags returns the tags a release of version gets: the version, and latest for a plain
// release version.
func Tags(version string) []string {
	tags := []string{version}
	if releaseVersion.MatchString(version) {
		tags = append(tags, "latest")
	}
	return tags
}

// Dist pushes the signed release in distDir (release.json and cosign/<svc>) to prefix
// (REGISTRY/PREFIX): each service to prefix/<svc>.
func Dist(ctx context.Context, distDir, prefix string, o Options) ([]Pushed, error) {
	data, err := os.ReadFile(filepath.Join(distDir, "release.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the release record: %w; run `go tool mage release` first", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("reading the release record: %w", err)
	}
	if len(rec.Images) == 0 {
		return nil, fmt.Errorf("reading the release record: expected images in %s, found none; run `go tool mage release`", filepath.Join(distDir, "release.json"))
	}
	// Check everything is there before the first byte goes out.
	type job struct {
		svc  string
		lay  *sign.Layout
		repo name.Repository
	}
	var jobs []job
	for _, img := range rec.Images {
		lay, err := sign.OpenLayout(filepath.Join(distDir, "cosign", img.Name))
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w; the release is not signed (run `go tool mage release`)", img.Name, err)
		}
		idx, err := lay.Index(img.Name)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", img.Name, err)
		}
		d, err := idx.Digest()
		if err != nil || d.String() != img.Index {
			return nil, fmt.Errorf("pushing %s: dist/cosign/%s holds index %v, release.json says %s; rerun `go tool mage release`", img.Name, img.Name, d, img.Index)
		}
		if _, err := verdictFor(o.Verdicts, img.Name, d); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", img.Name, err)
		}
		if err := checkVerdictBundle(o.Verdicts, img.Name, d); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", img.Name, err)
		}
		repo, err := name.NewRepository(prefix+"/"+img.Name, o.NameOptions...)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: expected a destination REGISTRY/PREFIX, found %q: %w", img.Name, prefix, err)
		}
		jobs = append(jobs, job{img.Name, lay, repo})
	}
	if o.Bundles == "" && !o.NoBundles {
		o.Bundles, o.Created = filepath.Join(distDir, "bundles"), time.Unix(rec.Epoch, 0)
	}
	if o.NoLegacy && o.NoBundles {
		return nil, errors.New("pushing without the legacy tags and without the bundles would push no signature: keep one")
	}
	if o.NoLegacy {
		if _, err := os.Stat(o.Bundles); err != nil {
			return nil, fmt.Errorf("pushing without the legacy tags needs the release's bundles: %w; rerun `go tool mage release`", err)
		}
	}
	var out []Pushed
	for _, j := range jobs {
		p, err := Image(ctx, j.lay, j.svc, j.repo, Tags(rec.Version), o)
		if err != nil {
			return out, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// Image pushes the index named svc in lay with the evidence stored beside it to repo, by
// digest first and tags last.
func Image(ctx context.Context, lay *sign.Layout, svc string, repo name.Repository, tags []string, o Options) (*Pushed, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	backoff := Backoff
	if o.Backoff.Steps > 0 {
		backoff = o.Backoff
	}
	ropts := append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(RetryStatusCodes...),
	}, o.Remote...)
	idx, err := lay.Index(svc)
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", svc, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", svc, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", svc, err)
	}
	subjects := []v1.Hash{d}
	for _, desc := range m.Manifests {
		subjects = append(subjects, desc.Digest)
	}
	// 1. The index with its platform images and blobs, by digest.
	if err := remote.WriteIndex(repo.Digest(d.String()), idx, ropts...); err != nil {
		return nil, fmt.Errorf("pushing %s index %s: %w", svc, d, err)
	}
	// 2. Signatures and attestations: the bundles as referrers, then the legacy images by digest.
	refs, err := bundleReferrers(idx, svc, o)
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", svc, err)
	}
	if err := pushReferrers(repo, refs, ropts); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", svc, err)
	}
	var evidence []tagged
	if !o.NoLegacy {
		if evidence, err = pushLegacy(lay, svc, repo, subjects, o, ropts); err != nil {
			return nil, err
		}
	}
	// 3. Tags, last: the cosign tags, then the release tags.
	for _, e := range evidence {
		if err := remote.Tag(repo.Tag(e.tag), e.img, ropts...); err != nil {
			return nil, fmt.Errorf("tagging %s:%s: %w", repo, e.tag, err)
		}
	}
	for _, t := range tags {
		if err := remote.Tag(repo.Tag(t), idx, ropts...); err != nil {
			return nil, fmt.Errorf("tagging %s:%s: %w", repo, t, err)
		}
	}
	ref := repo.Digest(d.String()).String()
	logf("pushed %s (tags %v) with %d Sigstore bundles as referrers and %d legacy signature and attestation images", ref, tags, len(refs), len(evidence))
	return &Pushed{Service: svc, Ref: ref, Tags: tags}, nil
}

// verdictFor reads the rebuild verdict of svc in dir (nil if there is none) and checks that
// it is a verdict about digest: one for another image is an error, not a silent attachment.
func verdictFor(dir, svc string, digest v1.Hash) ([]byte, error) {
	if dir == "" {
		return nil, nil
	}
	file := filepath.Join(dir, svc+vsa.EnvelopeSuffix)
	env, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, payload, err := sign.ParseEnvelope(env)
	if err != nil {
		return nil, fmt.Errorf("rebuild verdict %s: %w", file, err)
	}
	var st attest.Statement
	if err := json.Unmarshal(payload, &st); err != nil || st.PredicateType != vsa.PredicateType || len(st.Subject) == 0 || st.Subject[0].Digest[digest.Algorithm] != digest.Hex {
		return nil, fmt.Errorf("rebuild verdict %s is not a verdict about %s (run `go tool mage verify` with CAIRN_VSA_KEY again)", file, digest)
	}
	return env, nil
}

// withVerdict returns the attestation image att with the verdict env added as a last layer.
func withVerdict(att v1.Image, env []byte) (v1.Image, error) {
	layers, err := sign.Layers(att)
	if err != nil {
		return nil, err
	}
	cfg, err := att.ConfigFile()
	if err != nil {
		return nil, err
	}
	return sign.Image(append(layers, vsa.Layer(env)), cfg.Created.Time)
}

// tagged is a legacy signature or attestation image and its cosign tag.
type tagged struct {
	tag string
	img v1.Image
}

// bundleReferrers returns the referrers to push for svc: its bundles in o.Bundles, and its
// rebuild verdict's bundle in o.Verdicts; none with NoBundles.
func bundleReferrers(idx v1.ImageIndex, svc string, o Options) ([]*sign.Referrer, error) {
	if o.Bundles == "" || o.NoBundles {
		return nil, nil
	}
	refs, err := referrers(filepath.Join(o.Bundles, svc), idx, o.Created)
	if err != nil {
		return nil, err
	}
	verdict := filepath.Join(o.Verdicts, svc+attest.BundleSuffix)
	if o.Verdicts == "" {
		return refs, nil
	}
	if _, err := os.Stat(verdict); err != nil {
		return refs, nil
	}
	// The verdict as a bundle too, for the verifiers that read only referrers.
	subjects, err := descriptors(idx)
	if err != nil {
		return nil, err
	}
	r, err := referrerOf(verdict, subjects, o.Created)
	if err != nil {
		return nil, err
	}
	return append(refs, r), nil
}

// pushLegacy pushes the legacy .sig and .att images of each subject by digest (the index's
// .att with the rebuild verdict of o.Verdicts added) and returns them for tagging.
func pushLegacy(lay *sign.Layout, svc string, repo name.Repository, subjects []v1.Hash, o Options, ropts []remote.Option) ([]tagged, error) {
	d := subjects[0]
	var evidence []tagged
	for _, s := range subjects {
		for _, suffix := range []string{sign.SignatureSuffix, sign.AttestationSuffix} {
			tag := sign.Tag(s, suffix)
			img, err := lay.Image(tag)
			if err != nil {
				return nil, fmt.Errorf("pushing %s: reading %s: %w", svc, tag, err)
			}
			if img == nil {
				if s == d {
					return nil, fmt.Errorf("pushing %s: the layout has no %s; the release is not signed (run `go tool mage release`)", svc, tag)
				}
				continue
			}
			if s == d && suffix == sign.AttestationSuffix {
				env, err := verdictFor(o.Verdicts, svc, d)
				if err != nil {
					return nil, fmt.Errorf("pushing %s: %w", svc, err)
				}
				if env != nil {
					if img, err = withVerdict(img, env); err != nil {
						return nil, fmt.Errorf("pushing %s: %w", svc, err)
					}
				}
			}
			ed, err := img.Digest()
			if err != nil {
				return nil, fmt.Errorf("pushing %s: %w", svc, err)
			}
			if err := remote.Write(repo.Digest(ed.String()), img, ropts...); err != nil {
				return nil, fmt.Errorf("pushing %s %s: %w", svc, tag, err)
			}
			evidence = append(evidence, tagged{tag, img})
		}
	}
	return evidence, nil
}

// checkVerdictBundle checks that the verdict bundle of svc in dir, if there is one, is about
// digest, as verdictFor checks its envelope.
func checkVerdictBundle(dir, svc string, digest v1.Hash) error {
	if dir == "" {
		return nil
	}
	file := filepath.Join(dir, svc+attest.BundleSuffix)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := bundleStatement(b)
	if err != nil || st.PredicateType != vsa.PredicateType || len(st.Subject) == 0 || st.Subject[0].Digest[digest.Algorithm] != digest.Hex {
		return fmt.Errorf("rebuild verdict %s is not a verdict about %s (run `go tool mage verify` with CAIRN_VSA_KEY again)", file, digest)
	}
	return nil
}
