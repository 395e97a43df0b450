// Package audit traces a released image back to its sources (Audit): it verifies the
// image's signatures and attestations with the release key, compares them with the Go build
// information of its binaries, optionally rebuilds it, and reports PASS or FAIL per check,
// as text and JSON, in the manner of golang.org/x/build's gorebuild.
package audit

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/vsa"
)

// Report is the outcome of an audit.
type Report struct {
	// Report holds the checks (record.Check, as a release's verification reports them), Pass,
	// and the commit and version the provenance names.
	record.Report
	Ref       string   `json:"ref"`
	Digest    string   `json:"digest,omitempty"`
	Toolchain string   `json:"toolchain,omitempty"`
	Modules   []string `json:"modules,omitempty"`
	// Rebuilt is what a passing rebuild found, for a rebuild verdict (RebuildVerdict);
	// nil without a rebuild, or when it did not give the same index.
	Rebuilt *vsa.Verdict `json:"-"`
	// Formats says, per subject (index, platform), which evidence the audit read:
	// FormatBundles when the image has Sigstore bundles, else FormatLegacy.
	Formats map[string]string `json:"formats,omitempty"`
	// Verdict is the verified rebuild verdict, when Options.VerifierKey was given.
	Verdict string `json:"verdict,omitempty"`
}

// Failed returns the failed checks.
func (r *Report) Failed() []record.Check {
	var out []record.Check
	for _, c := range r.Checks {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

// Text writes the report for humans.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "image:     %s\n", r.Ref)
	fmt.Fprintf(&b, "digest:    %s\n", r.Digest)
	fmt.Fprintf(&b, "commit:    %s\n", r.Commit)
	fmt.Fprintf(&b, "version:   %s\n", r.Version)
	fmt.Fprintf(&b, "toolchain: %s\n", r.Toolchain)
	if r.Verdict != "" {
		fmt.Fprintf(&b, "verdict:   %s\n", r.Verdict)
	}
	for _, label := range sortedKeys(r.Formats) {
		fmt.Fprintf(&b, "evidence:  %s from %s\n", label, r.Formats[label])
	}
	fmt.Fprintf(&b, "modules:   %d\n", len(r.Modules))
	for _, m := range r.Modules {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	for _, c := range r.Checks {
		b.WriteString(c.Line())
	}
	if r.Pass {
		b.WriteString("PASS\n")
	} else {
		fmt.Fprintf(&b, "FAIL (%d of %d checks failed)\n", len(r.Failed()), len(r.Checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Rebuilder rebuilds the release at commit (version, epoch as the provenance records) and
// returns the digest of the index of service name.
type Rebuilder func(ctx context.Context, b RebuildInput) (v1.Hash, error)

// RebuildInput is what the provenance says about the build to repeat.
type RebuildInput struct {
	Name       string
	Repository string
	Commit     string
	Version    string
	Epoch      string // seconds, as recorded
}

// Options configure an audit.
type Options struct {
	// Key is the public key the signatures and attestations must verify with (required).
	Key *ecdsa.PublicKey
	// Remote are extra go-containerregistry options; the default keychain is always set.
	Remote []remote.Option
	// NameOptions parse registry references (name.Insecure for a plain-HTTP registry).
	NameOptions []name.Option
	// Rebuild, when set, rebuilds the provenance's commit and compares the index digest
	// (the "rebuild" check; GitRebuilder is the real one).
	Rebuild Rebuilder
	// Legacy reads cosign's legacy tags even where the image has bundles.
	Legacy bool
	// Bundles, for an OCI layout (which holds no referrers), is the directory of the image's
	// bundle files (a release's dist/bundles/<svc>): the audit then reads them instead of the
	// layout's legacy tags. A registry's bundles are its referrers.
	Bundles string
	// VerifierKey, when set, is the public key of a rebuild verifier: the index must carry a
	// rebuild verdict (package vsa) signed by it, in its legacy attestations or its bundles
	// (the "index rebuild verdict" check), and the report shows what it says.
	VerifierKey *ecdsa.PublicKey
}

// Audit checks the image index named ref (a registry reference by tag or digest, or an OCI
// layout: see Open) with o.Key. The error is for an audit that cannot start (no key, a
// malformed reference); everything about the image itself is a Check in the report, which
// passes when every check does. Nothing is trusted before its signature verifies.
//
// For the index and for each platform manifest (the label is "index" or the platform, such
// as "linux/arm/v7"):
//
//   - <label> signature: a cosign signature verifies with the key and names exactly this
//     digest (FAIL: unsigned image, wrong key, signature for another digest);
//   - <label> sbom, <label> cyclonedx, <label> provenance: an SPDX, a CycloneDX and a SLSA
//     provenance v1 attestation whose signature verifies with the key and whose in-toto
//     subject is this digest (FAIL: missing, wrong key, attestation for another digest),
//     and "<label> sbom readable" (and so on): its predicate decodes;
//   - <label> bundles, where the evidence is Sigstore bundles: every bundle attached to the
//     digest names it, is readable and, if it is of one of the release's kinds, verifies
//     with the key.
//
// The evidence is read from the Sigstore bundles attached to the digest (a registry's OCI
// 1.1 referrers; for a layout, the files of o.Bundles), and then only from them; where there
// are none, or with o.Legacy, from cosign's legacy tags beside the index, sha256-<hex>.sig
// (simple signing) and sha256-<hex>.att (DSSE envelopes). Report.Formats says which.
//
// For each platform image:
//
//   - <platform> layers: every layer's bytes match its digest and diff id (FAIL: tampered
//     layer), and the layers hold a Go binary;
//   - <platform> sbom matches binary, cyclonedx matches binary, provenance matches binary:
//     the Go build information embedded in each binary of the layers (toolchain, main
//     module, every module with version and h1 hash, every build setting, the file's
//     SHA-256) equals what the index's and the platform's SBOMs and provenance say, exactly.
//
// With o.VerifierKey, "index rebuild verdict" (see Options.VerifierKey). With o.Rebuild,
// "rebuild": the provenance's commit is rebuilt and the index digest must come out bit for
// bit the same; a pass fills Report.Rebuilt, for RebuildVerdict.
func Audit(ctx context.Context, ref string, o Options) (*Report, error) {
	if o.Key == nil {
		return nil, errors.New("audit: expected a public key, found none; pass --key or set COSIGN_PUBLIC_KEY")
	}
	src, err := Open(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	r := &Report{Ref: ref}
	a := &auditor{r: r, key: o.Key, verifier: o.VerifierKey, src: src, legacy: o.Legacy}
	a.run(ctx, o)
	r.Pass = len(r.Checks) > 0 && len(r.Failed()) == 0
	return r, nil
}

type auditor struct {
	r         *Report
	manifests []v1.Hash // the index's platform manifests, in order
	key       *ecdsa.PublicKey
	verifier  *ecdsa.PublicKey // nil: no verdict asked for
	legacy    bool             // ignore the bundles
	src       source
}

func (a *auditor) check(name string, err error) bool {
	c := record.Check{Name: name, Pass: err == nil}
	if err != nil {
		c.Detail = err.Error()
	}
	a.r.Checks = append(a.r.Checks, c)
	return err == nil
}

// evidence is what verified about one subject.
type evidence struct {
	name string // the statements' subject name, the service
	sbom *attest.SPDX
	cdx  *attest.CycloneDX
	prov *attest.Provenance
}

func (a *auditor) run(ctx context.Context, o Options) {
	idx, err := a.src.index()
	if err != nil {
		a.check("index", fmt.Errorf("reading the image index: %w", err))
		return
	}
	d, err := idx.Digest()
	if err != nil {
		a.check("index", err)
		return
	}
	a.r.Digest = d.String()
	m, err := idx.IndexManifest()
	if !a.check("index", err) {
		return
	}
	top := a.subject("index", d)
	if a.verifier != nil {
		a.verdict(d)
	}
	if top.prov != nil {
		ep := top.prov.BuildDefinition.ExternalParameters
		a.r.Commit, a.r.Version = ep.Commit, ep.Version
	}
	mods := map[string]bool{}
	for _, desc := range m.Manifests {
		plat := "unknown"
		if desc.Platform != nil {
			plat = desc.Platform.String()
		}
		a.manifests = append(a.manifests, desc.Digest)
		ev := a.subject(plat, desc.Digest)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			a.check(plat+" layers", err)
			continue
		}
		bins, err := attest.ReadBinaries(img)
		if err == nil && len(bins) == 0 {
			err = errors.New("expected a Go binary in the layers, found none")
		}
		if !a.check(plat+" layers", err) {
			continue
		}
		have := attest.Describe(bins)
		for _, b := range have {
			a.r.Toolchain = b.GoVersion
			for _, mod := range b.Modules {
				mods[mod] = true
			}
		}
		a.check(plat+" sbom matches binary", compareDocs("SBOM", have, top.sbom, ev.sbom, func(s *attest.SPDX) ([]attest.SBOMBinary, error) { return s.Binaries() }))
		a.check(plat+" cyclonedx matches binary", compareDocs("CycloneDX BOM", have, top.cdx, ev.cdx, func(c *attest.CycloneDX) ([]attest.SBOMBinary, error) { return c.Binaries() }))
		a.check(plat+" provenance matches binary", compareDocs("provenance", have, top.prov, ev.prov, func(p *attest.Provenance) ([]attest.SBOMBinary, error) { return p.Binaries() }))
	}
	for mod := range mods {
		a.r.Modules = append(a.r.Modules, mod)
	}
	sort.Strings(a.r.Modules)
	if o.Rebuild != nil {
		a.rebuild(ctx, o.Rebuild, top, d)
	}
}

func (a *auditor) rebuild(ctx context.Context, rb Rebuilder, top evidence, want v1.Hash) {
	if top.prov == nil {
		a.check("rebuild", errors.New("no verified provenance to rebuild from"))
		return
	}
	ep := top.prov.BuildDefinition.ExternalParameters
	svc := top.name
	got, err := rb(ctx, RebuildInput{Name: svc, Repository: ep.Repository, Commit: ep.Commit, Version: ep.Version, Epoch: top.prov.BuildDefinition.InternalParameters["epoch"]})
	if err == nil && got != want {
		err = fmt.Errorf("rebuilding %s at %s gave index %s, the image is %s: not reproducible from its sources", svc, ep.Commit, got, want)
	}
	if a.check("rebuild", err) {
		a.r.Rebuilt = &vsa.Verdict{Name: svc, Repository: ep.Repository, Commit: ep.Commit, Toolchain: a.r.Toolchain,
			Index: want, Rebuilt: got, Manifests: a.manifests}
	}
}

// RebuildVerdict is the rebuild verdict of a passing audit with a rebuild, by verifierID at
// now, to sign (vsa.Verdict.Sign); an error if the audit failed or rebuilt nothing.
func (r *Report) RebuildVerdict(verifierID string, now time.Time) (*vsa.Verdict, error) {
	if !r.Pass || r.Rebuilt == nil {
		return nil, fmt.Errorf("no rebuild verdict for %s: the audit did not pass a rebuild", r.Ref)
	}
	v := *r.Rebuilt
	v.VerifierID, v.Time = verifierID, now
	return &v, nil
}

// statements verifies the signature of d and returns its verified attestation statements:
// from the Sigstore bundles attached to d if there are any (then only from them), else from
// the legacy tags. The report says which format each subject's evidence came from.
func (a *auditor) statements(label string, d v1.Hash) ([]*attest.Statement, error) {
	var bundles []found
	if !a.legacy {
		var err error
		if bundles, err = a.src.bundles(d); err != nil {
			a.check(label+" bundles", err)
		}
	}
	if a.r.Formats == nil {
		a.r.Formats = map[string]string{}
	}
	if len(bundles) == 0 {
		a.r.Formats[label] = FormatLegacy
		a.check(label+" signature", a.verifySignature(d))
		return a.attestations(d)
	}
	a.r.Formats[label] = FormatBundles
	sigErr, stmts, err := a.fromBundles(d, bundles)
	a.check(label+" bundles", err)
	a.check(label+" signature", sigErr)
	if len(stmts) == 0 {
		return nil, fmt.Errorf("attestations do not verify: none of the %d bundles of %s holds an attestation signed by the given key", len(bundles), d)
	}
	return stmts, nil
}

// subject verifies the signature and the attestations of digest, adding checks named
// "<label> signature", "<label> sbom", "<label> cyclonedx" and "<label> provenance".
func (a *auditor) subject(label string, d v1.Hash) evidence {
	var ev evidence
	stmts, err := a.statements(label, d)
	if err != nil {
		a.check(label+" sbom", err)
		a.check(label+" cyclonedx", err)
		a.check(label+" provenance", err)
		return ev
	}
	if st, err := pick(stmts, attest.SPDXPredicateType, d); a.check(label+" sbom", err) {
		var doc attest.SPDX
		if err := json.Unmarshal(st.Predicate, &doc); a.check(label+" sbom readable", err) {
			ev.sbom = &doc
		}
	}
	if st, err := pick(stmts, attest.CycloneDXPredicateType, d); a.check(label+" cyclonedx", err) {
		var doc attest.CycloneDX
		if err := json.Unmarshal(st.Predicate, &doc); a.check(label+" cyclonedx readable", err) {
			ev.cdx = &doc
		}
	}
	if st, err := pick(stmts, attest.ProvenancePredicateType, d); a.check(label+" provenance", err) {
		p, err := attest.ParseProvenance(st.Predicate)
		if a.check(label+" provenance readable", err) {
			ev.prov = p
			if len(st.Subject) > 0 {
				ev.name = st.Subject[0].Name
			}
		}
	}
	return ev
}

// pick returns the verified statement of predicateType about d.
func pick(stmts []*attest.Statement, predicateType string, d v1.Hash) (*attest.Statement, error) {
	var others []string
	found := false
	for _, st := range stmts {
		if st.PredicateType != predicateType {
			continue
		}
		found = true
		if st.About(d) {
			return st, nil
		}
		for _, s := range st.Subject {
			for alg, hex := range s.Digest {
				others = append(others, alg+":"+hex)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("no verified %s attestation", predicateType)
	}
	return nil, fmt.Errorf("the %s attestation is for another digest: its subject is %s, the image is %s", predicateType, strings.Join(others, ", "), d)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
