package audit

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// verifySignature checks d's legacy signature: cosign's sha256-<hex>.sig image beside the
// index, whose simple-signing payloads must be the key's and name d.
func (a *auditor) verifySignature(d v1.Hash) error {
	tag := sign.Tag(d, sign.SignatureSuffix)
	img, err := a.src.image(tag)
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	if img == nil {
		return fmt.Errorf("unsigned image: no signature %s for %s", tag, d)
	}
	layers, err := sign.Layers(img)
	if err != nil {
		return err
	}
	var other []string
	verified := 0
	for _, l := range layers {
		if l.MediaType != sign.SimpleSigningMediaType {
			continue
		}
		sig, err := decodeB64(l.Annotations[sign.SignatureAnnotation])
		if err != nil || !sign.VerifyBytes(a.key, l.Payload, sig) {
			continue
		}
		verified++
		ss, err := sign.ParseSimpleSigning(l.Payload)
		if err != nil {
			return err
		}
		if ss.Critical.Image.DockerManifestDigest == d.String() {
			return nil
		}
		other = append(other, ss.Critical.Image.DockerManifestDigest)
	}
	if verified == 0 {
		return fmt.Errorf("signature does not verify: none of the %d signatures in %s was made by the given key (wrong key, or a tampered signature)", len(layers), tag)
	}
	return fmt.Errorf("signature is for another digest: it signs %s, the image is %s", strings.Join(other, ", "), d)
}

// attestations returns the verified in-toto statements attached to d.
func (a *auditor) attestations(d v1.Hash) ([]*attest.Statement, error) {
	tag := sign.Tag(d, sign.AttestationSuffix)
	img, err := a.src.image(tag)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	if img == nil {
		return nil, fmt.Errorf("no attestations: %s is missing for %s", tag, d)
	}
	layers, err := sign.Layers(img)
	if err != nil {
		return nil, err
	}
	var out []*attest.Statement
	bad := 0
	for _, l := range layers {
		if l.MediaType != sign.DSSEMediaType {
			continue
		}
		typ, payload, err := sign.VerifyEnvelope(a.key, l.Payload)
		if err != nil || typ != sign.InTotoPayloadType {
			bad++
			continue
		}
		st, err := attest.ParseStatement(payload)
		if err != nil {
			bad++
			continue
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("attestations do not verify: none of the %d attestations in %s was signed by the given key", bad, tag)
	}
	return out, nil
}
