// Package vsa writes and reads Cairn's signed rebuild verdicts: SLSA Verification Summary
// Attestations (VSA v1, https://slsa.dev/verification_summary/v1) that say an image was
// rebuilt bit for bit from its commit with the pinned toolchain.
//
// A verdict is an in-toto statement about the image index and each platform manifest,
// wrapped in a DSSE envelope signed by a verifier's key (not the release's: the point is a
// second party). `cairn-release verify` writes one per image it rebuilt identically,
// `push -vsa` attaches it to the index's attestations as cosign does, and `audit` shows it
// when given the verifier's public key.
package vsa

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// PredicateType is the in-toto predicate type of a VSA v1.
const PredicateType = "https://slsa.dev/verification_summary/v1"

// PolicyURI names the policy a verdict applies: the image is what its commit builds.
const PolicyURI = "https://github.com/cairn-iot/cairn/release/policy/bit-identical-rebuild/v1"

// Level is the verified level Cairn records besides SLSA's: a rebuild gave the same bytes.
const Level = "CAIRN_BIT_IDENTICAL_REBUILD"

// DefaultVerifierID names the verifier when Verdict.VerifierID is empty.
const DefaultVerifierID = "https://github.com/cairn-iot/cairn/release/cmd/cairn-release/verify"

// Predicate is a VSA v1 predicate.
type Predicate struct {
	Verifier           Verifier                    `json:"verifier"`
	TimeVerified       string                      `json:"timeVerified"`
	ResourceURI        string                      `json:"resourceUri"`
	Policy             attest.ResourceDescriptor   `json:"policy"`
	InputAttestations  []attest.ResourceDescriptor `json:"inputAttestations,omitempty"`
	VerificationResult string                      `json:"verificationResult"`
	VerifiedLevels     []string                    `json:"verifiedLevels"`
	SLSAVersion        string                      `json:"slsaVersion"`
}

// Verifier identifies who verified.
type Verifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Verdict is what a rebuild found about one image.
type Verdict struct {
	// Name is the image's name (the service); Repository its source repository.
	Name, Repository string
	// Commit and Toolchain are what was rebuilt, and with what.
	Commit, Toolchain string
	// Index is the released index digest; Rebuilt what the rebuild made (equal, or there is
	// no verdict to sign); Manifests the platform manifests, in index order.
	Index, Rebuilt v1.Hash
	Manifests      []v1.Hash
	// Provenance is the digest of the provenance statement the rebuild followed, if any.
	Provenance *v1.Hash
	// VerifierID names the verifier ("" = DefaultVerifierID); Time is when it verified.
	VerifierID string
	Time       time.Time
}

// Policy is the human form of the policy: "bit-identical rebuild of commit X with toolchain Y".
func (v Verdict) Policy() string {
	return fmt.Sprintf("bit-identical rebuild of commit %s with toolchain %s", v.Commit, v.Toolchain)
}

// Statement returns the verdict's in-toto statement. It refuses a rebuild that differs: a
// verdict is only written for an image rebuilt bit for bit.
func (v Verdict) Statement() ([]byte, error) {
	if v.Rebuilt != v.Index {
		return nil, fmt.Errorf("no verdict for %s: the rebuild made %s, the release has %s", v.Name, v.Rebuilt, v.Index)
	}
	if v.Commit == "" || v.Toolchain == "" || v.Time.IsZero() {
		return nil, errors.New("a verdict needs the commit, the toolchain and the time")
	}
	id := v.VerifierID
	if id == "" {
		id = DefaultVerifierID
	}
	p := Predicate{
		Verifier:     Verifier{ID: id},
		TimeVerified: v.Time.UTC().Format(time.RFC3339),
		ResourceURI:  v.Repository + "/" + v.Name + "@" + v.Index.String(),
		Policy: attest.ResourceDescriptor{
			Name: v.Policy(), URI: PolicyURI,
			Annotations: map[string]any{"commit": v.Commit, "toolchain": v.Toolchain, "rebuiltIndex": v.Rebuilt.String()},
		},
		VerificationResult: "PASSED",
		VerifiedLevels:     []string{Level},
		SLSAVersion:        "1.0",
	}
	if v.Provenance != nil {
		p.InputAttestations = []attest.ResourceDescriptor{{Name: "provenance", Digest: map[string]string{v.Provenance.Algorithm: v.Provenance.Hex}}}
	}
	pred, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	subjects := []attest.Subject{{Name: v.Name, Digest: map[string]string{v.Index.Algorithm: v.Index.Hex}}}
	for _, m := range v.Manifests {
		subjects = append(subjects, attest.Subject{Name: v.Name, Digest: map[string]string{m.Algorithm: m.Hex}})
	}
	return json.Marshal(attest.Statement{Type: attest.StatementType, Subject: subjects, PredicateType: PredicateType, Predicate: pred})
}

// Sign returns the verdict as a DSSE envelope signed by the verifier's key: the file
// `cairn-release verify -vsa` writes.
func (v Verdict) Sign(key *ecdsa.PrivateKey) ([]byte, error) {
	st, err := v.Statement()
	if err != nil {
		return nil, err
	}
	return sign.SignEnvelope(key, sign.InTotoPayloadType, st)
}

// Layer is the envelope as a cosign attestation layer, to add to the index's .att image.
func Layer(envelope []byte) sign.Layer {
	return sign.Layer{
		MediaType:   sign.DSSEMediaType,
		Payload:     envelope,
		Annotations: map[string]string{sign.SignatureAnnotation: "", sign.PredicateTypeAnnotation: PredicateType},
	}
}

// String is the verdict in one line: "PASSED: <policy> by <verifier> at <time>".
func (p *Predicate) String() string {
	return fmt.Sprintf("%s: %s by %s at %s", p.VerificationResult, p.Policy.Name, p.Verifier.ID, p.TimeVerified)
}

// Read verifies envelope with the verifier's public key and returns its predicate, after
// checking that it is a VSA, that it passed, and that one of its subjects is digest.
func Read(pub *ecdsa.PublicKey, envelope []byte, digest v1.Hash) (*Predicate, error) {
	pt, payload, err := sign.VerifyEnvelope(pub, envelope)
	if err != nil {
		return nil, fmt.Errorf("rebuild verdict: %w", err)
	}
	if pt != sign.InTotoPayloadType {
		return nil, fmt.Errorf("rebuild verdict: payload type %q, want %q", pt, sign.InTotoPayloadType)
	}
	return read(payload, digest)
}

// ReadBundle is Read for the verdict as a Sigstore bundle.
func ReadBundle(pub *ecdsa.PublicKey, bundle []byte, digest v1.Hash) (*Predicate, error) {
	payload, err := sign.VerifyBundle(pub, bundle)
	if err != nil {
		return nil, fmt.Errorf("rebuild verdict: %w", err)
	}
	return read(payload, digest)
}

func read(payload []byte, digest v1.Hash) (*Predicate, error) {
	var st attest.Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("rebuild verdict: %w", err)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("rebuild verdict: predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	about := false
	for _, s := range st.Subject {
		if s.Digest[digest.Algorithm] == digest.Hex {
			about = true
		}
	}
	if !about {
		return nil, fmt.Errorf("rebuild verdict is for another image: its subjects do not include %s", digest)
	}
	var p Predicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("rebuild verdict: %w", err)
	}
	if p.VerificationResult != "PASSED" {
		return nil, fmt.Errorf("rebuild verdict says %q, want PASSED", p.VerificationResult)
	}
	return &p, nil
}
