package sign

import (
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Suffixes of cosign's tag scheme: sha256-<hex>.sig and sha256-<hex>.att.
const (
	SignatureSuffix   = "sig"
	AttestationSuffix = "att"
)

// Tag returns the cosign tag of the object attached to digest, e.g. sha256-<hex>.sig.
func Tag(digest v1.Hash, suffix string) string {
	return digest.Algorithm + "-" + digest.Hex + "." + suffix
}

// Layer is one signature or attestation: a layer of a cosign signature or attestation image.
type Layer struct {
	MediaType   types.MediaType
	Payload     []byte
	Annotations map[string]string
}

// NewSignature signs the simple-signing payload for digest with key.
func NewSignature(key *ecdsa.PrivateKey, identity string, digest v1.Hash) (Layer, error) {
	payload, err := SimpleSigningPayload(identity, digest)
	if err != nil {
		return Layer{}, fmt.Errorf("signing %s: %w", digest, err)
	}
	sig, err := SignBytes(key, payload)
	if err != nil {
		return Layer{}, fmt.Errorf("signing %s: %w", digest, err)
	}
	return Layer{
		MediaType:   SimpleSigningMediaType,
		Payload:     payload,
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}, nil
}

// NewAttestation wraps an in-toto statement in a DSSE envelope signed by key.
func NewAttestation(key *ecdsa.PrivateKey, predicateType string, statement []byte) (Layer, error) {
	env, err := SignEnvelope(key, InTotoPayloadType, statement)
	if err != nil {
		return Layer{}, fmt.Errorf("attesting %s: %w", predicateType, err)
	}
	return Layer{
		MediaType: DSSEMediaType,
		Payload:   env,
		// cosign writes an empty signature annotation on attestations; the signature is
		// inside the envelope.
		Annotations: map[string]string{SignatureAnnotation: "", PredicateTypeAnnotation: predicateType},
	}, nil
}

// Image returns the cosign image that carries layers, in order: an OCI manifest over an
// empty config, one layer per signature, created at the release epoch so it never varies.
func Image(layers []Layer, created time.Time) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{
			Layer:       static.NewLayer(l.Payload, l.MediaType),
			Annotations: l.Annotations,
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("assembling signature image: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: created.UTC()})
	if err != nil {
		return nil, fmt.Errorf("assembling signature image: %w", err)
	}
	return img, nil
}

// Layers reads the signatures or attestations of a cosign image.
func Layers(img v1.Image) ([]Layer, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading signature manifest: %w", err)
	}
	out := make([]Layer, 0, len(m.Layers))
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading signature layer %s: %w", d.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("reading signature layer %s: %w", d.Digest, err)
		}
		// Signature layers are small JSON documents; bound what we read from outside.
		data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading signature layer %s: %w", d.Digest, err)
		}
		if h, _, _ := v1.SHA256(strings.NewReader(string(data))); h != d.Digest {
			return nil, fmt.Errorf("reading signature layer: expected digest %s, found %s", d.Digest, h)
		}
		out = append(out, Layer{MediaType: d.MediaType, Payload: data, Annotations: d.Annotations})
	}
	return out, nil
}

// Evidence is everything Cairn attaches to one manifest or index: its signature image
// (tag sha256-<hex>.sig) and its attestation image (sha256-<hex>.att).
type Evidence struct {
	Subject      v1.Hash
	Signatures   v1.Image
	Attestations v1.Image
}
