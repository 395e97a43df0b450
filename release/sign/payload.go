package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Media types and annotations of cosign's signature and attestation images.
const (
	SimpleSigningMediaType  = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType           = "application/vnd.dsse.envelope.v1+json"
	SignatureAnnotation     = "dev.cosignproject.cosign/signature"
	PredicateTypeAnnotation = "predicateType"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// simpleSigningType is the critical.type cosign writes and checks.
	simpleSigningType = "cosign container image signature"
)

// SignBytes returns the ASN.1 ECDSA signature over SHA-256(msg). The nil random source makes
// it deterministic (RFC 6979): the same key and message always give the same signature.
func SignBytes(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	sig, err := key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sig, nil
}

// VerifyBytes reports whether sig is pub's ASN.1 ECDSA signature over SHA-256(msg).
func VerifyBytes(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(pub, d[:], sig)
}

// SimpleSigning is the payload of a cosign signature ("simple signing" format).
type SimpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]string `json:"optional"`
}

// SimpleSigningPayload returns the payload cosign signs for the manifest digest, claiming
// identity (a repository name; cosign does not check it, the digest is what is signed).
func SimpleSigningPayload(identity string, digest v1.Hash) ([]byte, error) {
	var s SimpleSigning
	s.Critical.Identity.DockerReference = identity
	s.Critical.Image.DockerManifestDigest = digest.String()
	s.Critical.Type = simpleSigningType
	return json.Marshal(s)
}

// ParseSimpleSigning decodes a simple-signing payload and checks its type.
func ParseSimpleSigning(data []byte) (*SimpleSigning, error) {
	var s SimpleSigning
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding simple-signing payload: %w", err)
	}
	if s.Critical.Type != simpleSigningType {
		return nil, fmt.Errorf("decoding simple-signing payload: expected type %q, found %q", simpleSigningType, s.Critical.Type)
	}
	if _, err := v1.NewHash(s.Critical.Image.DockerManifestDigest); err != nil {
		return nil, fmt.Errorf("decoding simple-signing payload: %w", err)
	}
	return &s, nil
}

// Envelope is a DSSE envelope (https://github.com/secure-systems-lab/dsse).
type Envelope struct {
	PayloadType string              `json:"payloadType"`
	Payload     string              `json:"payload"`
	Signatures  []EnvelopeSignature `json:"signatures"`
}

// EnvelopeSignature is one signature of an Envelope.
type EnvelopeSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// PAE is DSSE's pre-authentication encoding, the bytes that are actually signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// SignEnvelope wraps payload in a DSSE envelope signed by key, as cosign attest does (empty
// key id). The result is deterministic.
func SignEnvelope(key *ecdsa.PrivateKey, payloadType string, payload []byte) ([]byte, error) {
	sig, err := SignBytes(key, PAE(payloadType, payload))
	if err != nil {
		return nil, err
	}
	return json.Marshal(Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []EnvelopeSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
}

// ParseEnvelope decodes a DSSE envelope and its base64 fields without verifying it.
func ParseEnvelope(data []byte) (*Envelope, []byte, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, nil, fmt.Errorf("decoding DSSE envelope: %w", err)
	}
	if e.PayloadType == "" {
		return nil, nil, errors.New("decoding DSSE envelope: expected a payloadType, found none")
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding DSSE envelope payload: %w", err)
	}
	if len(e.Signatures) == 0 {
		return nil, nil, errors.New("decoding DSSE envelope: expected at least one signature, found none")
	}
	return &e, payload, nil
}

// VerifyEnvelope checks that one of the envelope's signatures is pub's and returns the
// payload. Nothing from an envelope should be trusted before this returns nil.
func VerifyEnvelope(pub *ecdsa.PublicKey, data []byte) (payloadType string, payload []byte, err error) {
	e, payload, err := ParseEnvelope(data)
	if err != nil {
		return "", nil, err
	}
	pae := PAE(e.PayloadType, payload)
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		if VerifyBytes(pub, pae, sig) {
			return e.PayloadType, payload, nil
		}
	}
	return "", nil, errors.New("verifying DSSE envelope: no signature verifies with the given public key")
}
