package audit

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

// Formats the audit names in the report.
const (
	FormatBundles = "Sigstore bundles (OCI 1.1 referrers)"
	FormatLegacy  = "cosign legacy tags (.sig, .att)"
)

// fromBundles verifies the bundles attached to d with the release key: the signature bundle
// (cosign's sign predicate about d) and the attestations' statements. A bundle that names
// another subject, cannot be read, or claims one of the release's kinds without the release
// key's signature fails the audit; other parties' attestations (rebuild verdicts) are left to
// their own check. With bundles present the audit does not fall back to the legacy tags.
func (a *auditor) fromBundles(d v1.Hash, bundles []found) (sigErr error, stmts []*attest.Statement, err error) {
	sigErr = fmt.Errorf("unsigned image: no signature bundle among the %d bundles of %s", len(bundles), d)
	signed := false
	var wrong error // a verified signature about another digest fails whatever else is there
	var problems []string
	for _, f := range bundles {
		if f.subject != d {
			problems = append(problems, fmt.Sprintf("%s is attached to %s, not to %s", f.where, f.subject, d))
			continue
		}
		payload, err := sign.VerifyBundle(a.key, f.data)
		if err != nil {
			st := unverified(f.data)
			if st != nil && !releaseKinds[st.PredicateType] {
				continue // another party's attestation (a rebuild verdict): not the release key's
			}
			if st != nil && st.PredicateType == sign.CosignSignPredicateType && sigErr != nil {
				sigErr = fmt.Errorf("signature does not verify: none of the signature bundles of %s was made by the given key (wrong key, or a tampered signature)", d)
			}
			problems = append(problems, fmt.Sprintf("%s: %v", f.where, err))
			continue
		}
		st, err := attest.ParseStatement(payload)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.where, err))
			continue
		}
		if st.PredicateType == sign.CosignSignPredicateType {
			if about(st, d) {
				signed = true
			} else {
				wrong = fmt.Errorf("signature is for another digest: %s signs %v, the image is %s", f.where, st.Subject, d)
			}
			continue
		}
		stmts = append(stmts, st)
	}
	switch {
	case wrong != nil:
		sigErr = wrong
	case signed:
		sigErr = nil
	}
	if len(problems) > 0 {
		return sigErr, stmts, fmt.Errorf("bundles that do not belong: %s", strings.Join(problems, "; "))
	}
	return sigErr, stmts, nil
}

// releaseKinds are the predicate types a release signs: a bundle of one of them that the
// release key did not sign is a failure, not another party's attestation.
var releaseKinds = map[string]bool{
	sign.CosignSignPredicateType:   true,
	attest.SPDXPredicateType:       true,
	attest.CycloneDXPredicateType:  true,
	attest.ProvenancePredicateType: true,
}

// about reports whether st names d among its subjects.
func about(st *attest.Statement, d v1.Hash) bool {
	for _, s := range st.Subject {
		if s.Digest[d.Algorithm] == d.Hex {
			return true
		}
	}
	return false
}

// unverified is a bundle's statement read without verifying it, nil if there is none: only
// to sort files by subject and to word errors; the audit verifies before it trusts anything.
func unverified(b []byte) *attest.Statement {
	_, payload, err := sign.BundlePayload(b)
	if err != nil {
		return nil
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		return nil
	}
	return st
}

// subjectOf is the first subject of a bundle's statement, read without verifying it.
func subjectOf(b []byte) v1.Hash {
	st := unverified(b)
	if st == nil || len(st.Subject) == 0 {
		return v1.Hash{}
	}
	for alg, hex := range st.Subject[0].Digest {
		return v1.Hash{Algorithm: alg, Hex: hex}
	}
	return v1.Hash{}
}
