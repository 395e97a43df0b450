package attest

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/sign"
)

// File is a plain JSON copy of an attestation, for humans (dist/attestations/<svc>/).
type File struct {
	Name string
	Data []byte
}

// Attached is the evidence of one image: cosign images for the index and each platform
// manifest (index first, then the platforms in index order), the plain JSON copies, and the
// same signature and statements as Sigstore bundles.
type Attached struct {
	Evidence []sign.Evidence
	Files    []File
	Bundles  []Bundle
}

// Bundle is one signature or attestation as a Sigstore bundle v0.3, for a referrer of
// Subject; Name is its file name in dist/bundles/<svc>/.
type Bundle struct {
	Subject       v1.Hash
	PredicateType string
	Name          string
	Data          []byte
}

// BundleSuffix ends a bundle's file name.
const BundleSuffix = ".sigstore.json"

// Attach signs and attests the image index idx of the image called name: per subject (the
// index, then each platform manifest) a simple-signing signature and three DSSE
// attestations, the SBOM in SPDX and in CycloneDX and the provenance, all signed by key, and
// the same as Sigstore bundles. identity is the repository name written into the signature
// payloads. The result is deterministic.
func Attach(key *ecdsa.PrivateKey, b Build, name, identity string, idx v1.ImageIndex) (*Attached, error) {
	subs, err := subjects(name, idx)
	if err != nil {
		return nil, err
	}
	out := &Attached{}
	for _, s := range subs {
		if err := out.attach(key, b, name, identity, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// subject is one digest that gets evidence: the binaries it ships and the prefix of its
// files ("" for the index, "<os>_<arch>[_<variant>]." for a platform).
type subject struct {
	digest v1.Hash
	bins   []Binary
	file   string
}

// subjects are the index (with every platform's binaries), then each platform image.
func subjects(name string, idx v1.ImageIndex) ([]subject, error) {
	idxDigest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("attesting %s: %w", name, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("attesting %s: %w", name, err)
	}
	var all []Binary
	var subs []subject
	for _, d := range m.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("attesting %s: %w", name, err)
		}
		bins, err := ReadBinaries(img)
		if err != nil {
			return nil, fmt.Errorf("attesting %s %s: %w", name, d.Digest, err)
		}
		if len(bins) == 0 {
			return nil, fmt.Errorf("attesting %s %s: expected a Go binary in the image layers, found none", name, d.Digest)
		}
		all = append(all, bins...)
		plat := "unknown"
		if d.Platform != nil {
			plat = strings.ReplaceAll(d.Platform.String(), "/", "_")
		}
		subs = append(subs, subject{d.Digest, bins, plat + "."})
	}
	return append([]subject{{idxDigest, all, ""}}, subs...), nil
}

// attach adds the evidence of s: its signature and attestations as cosign images, as plain
// JSON files and as bundles.
func (out *Attached) attach(key *ecdsa.PrivateKey, b Build, name, identity string, s subject) error {
	sig, err := sign.NewSignature(key, identity, s.digest)
	if err != nil {
		return err
	}
	sigStmt, err := sign.SignatureStatement(s.digest)
	if err != nil {
		return err
	}
	sigBundle, err := sign.NewBundle(key, sigStmt)
	if err != nil {
		return err
	}
	out.Bundles = append(out.Bundles, Bundle{s.digest, sign.CosignSignPredicateType, s.file + "signature" + BundleSuffix, sigBundle})
	var atts []sign.Layer
	for _, st := range []struct {
		typ       string
		predicate any
		file      string
	}{
		{SPDXPredicateType, SBOM(name, b.Version, s.digest, s.bins, b.Epoch), "sbom.spdx.json"},
		{CycloneDXPredicateType, CycloneDXBOM(name, b.Version, s.digest, s.bins, b.Epoch), "sbom.cdx.json"},
		{ProvenancePredicateType, NewProvenance(b, s.bins), "provenance.slsa.json"},
	} {
		stmt, err := NewStatement(name, s.digest, st.typ, st.predicate)
		if err != nil {
			return err
		}
		att, err := sign.NewAttestation(key, st.typ, stmt)
		if err != nil {
			return err
		}
		atts = append(atts, att)
		bundle, err := sign.NewBundle(key, stmt)
		if err != nil {
			return err
		}
		out.Bundles = append(out.Bundles, Bundle{s.digest, st.typ, s.file + strings.TrimSuffix(st.file, ".json") + BundleSuffix, bundle})
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, stmt, "", "  "); err != nil {
			return fmt.Errorf("attesting %s: %w", name, err)
		}
		pretty.WriteByte('\n')
		out.Files = append(out.Files, File{Name: s.file + st.file, Data: pretty.Bytes()})
	}
	sigImg, err := sign.Image([]sign.Layer{sig}, b.Epoch)
	if err != nil {
		return err
	}
	attImg, err := sign.Image(atts, b.Epoch)
	if err != nil {
		return err
	}
	out.Evidence = append(out.Evidence, sign.Evidence{Subject: s.digest, Signatures: sigImg, Attestations: attImg})
	return nil
}
