package sign

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sigstore bundles, the format cosign v3 writes by default: a DSSE envelope with the
// verification material beside it, attached to an image as an OCI 1.1 referrer.
const (
	// BundleMediaType is a Sigstore bundle v0.3: the referrer's artifact type and its layer's
	// media type.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// CosignSignPredicateType is the predicate of an image signature in a bundle: cosign v3
	// signs an in-toto statement about the image digest with an empty predicate.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// Referrer manifest annotations, as cosign v3 writes them.
	BundleContentAnnotation       = "dev.sigstore.bundle.content"
	BundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
)

// Bundle is a Sigstore bundle v0.3 signed with a key: no certificate, no transparency log
// entry, no timestamp; its verification material is the public key's hint.
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         BundleEnvelope       `json:"dsseEnvelope"`
}

// VerificationMaterial names the key that signed a bundle.
type VerificationMaterial struct {
	PublicKey struct {
		Hint string `json:"hint"`
	} `json:"publicKey"`
}

// BundleEnvelope is the DSSE envelope of a bundle, in the bundle's JSON form.
type BundleEnvelope struct {
	Payload     string `json:"payload"`
	PayloadType string `json:"payloadType"`
	Signatures  []struct {
		Sig string `json:"sig"`
	} `json:"signatures"`
}

// KeyHint is how a bundle names a public key: the SHA-256 of its PKIX DER, base64.
func KeyHint(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// NewBundle signs the in-toto statement with key into a bundle. The result is deterministic
// (RFC 6979 signatures): the same statement and key give the same bytes.
func NewBundle(key *ecdsa.PrivateKey, statement []byte) ([]byte, error) {
	sig, err := SignBytes(key, PAE(InTotoPayloadType, statement))
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	b := Bundle{MediaType: BundleMediaType}
	b.VerificationMaterial.PublicKey.Hint = hint
	b.DSSEEnvelope.Payload = base64.StdEncoding.EncodeToString(statement)
	b.DSSEEnvelope.PayloadType = InTotoPayloadType
	b.DSSEEnvelope.Signatures = append(b.DSSEEnvelope.Signatures, struct {
		Sig string `json:"sig"`
	}{base64.StdEncoding.EncodeToString(sig)})
	return json.Marshal(b)
}

// SignatureStatement is the statement cosign v3 signs for an image: about digest, with the
// cosign sign predicate type and an empty predicate.
func SignatureStatement(digest v1.Hash) ([]byte, error) {
	return json.Marshal(struct {
		Type    string `json:"_type"`
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		PredicateType string   `json:"predicateType"`
		Predicate     struct{} `json:"predicate"`
	}{
		Type: "https://in-toto.io/Statement/v1",
		Subject: []struct {
			Digest map[string]string `json:"digest"`
		}{{Digest: map[string]string{digest.Algorithm: digest.Hex}}},
		PredicateType: CosignSignPredicateType,
	})
}

// BundlePayload decodes a bundle v0.3 and returns it with the in-toto statement it carries,
// WITHOUT verifying the signature: for sorting and wording only (push, which has no key; the
// audit's choice of files). VerifyBundle is what makes a payload trustworthy.
func BundlePayload(data []byte) (*Bundle, []byte, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, fmt.Errorf("decoding Sigstore bundle: %w", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, nil, fmt.Errorf("decoding Sigstore bundle: media type %q, want %q", b.MediaType, BundleMediaType)
	}
	if b.DSSEEnvelope.PayloadType != InTotoPayloadType {
		return nil, nil, fmt.Errorf("Sigstore bundle: payload type %q, want %q", b.DSSEEnvelope.PayloadType, InTotoPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding Sigstore bundle payload: %w", err)
	}
	return &b, payload, nil
}

// VerifyBundle checks that data is a bundle v0.3 whose envelope pub signed, and returns the
// in-toto statement it carries. Nothing from a bundle should be trusted before this returns.
func VerifyBundle(pub *ecdsa.PublicKey, data []byte) ([]byte, error) {
	b, payload, err := BundlePayload(data)
	if err != nil {
		return nil, err
	}
	pae := PAE(b.DSSEEnvelope.PayloadType, payload)
	for _, s := range b.DSSEEnvelope.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil && VerifyBytes(pub, pae, sig) {
			return payload, nil
		}
	}
	if len(b.DSSEEnvelope.Signatures) == 0 {
		return nil, errors.New("Sigstore bundle: no signature")
	}
	return nil, errors.New("Sigstore bundle: no signature verifies with the given public key")
}
