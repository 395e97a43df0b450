package audit

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
)

// verdict checks for a rebuild verdict about the index d signed by the verifier's key among
// the index's legacy attestations, then among its bundles, and records what it says. Verdicts signed by another key, or
// about another image, do not count.
func (a *auditor) verdict(d v1.Hash) {
	a.check("index rebuild verdict", a.findVerdict(d))
}

func (a *auditor) findVerdict(d v1.Hash) error {
	tag := sign.Tag(d, sign.AttestationSuffix)
	img, err := a.src.image(tag)
	if err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	var layers []sign.Layer
	if img != nil {
		if layers, err = sign.Layers(img); err != nil {
			return err
		}
	}
	var errs []error
	for _, l := range layers {
		if l.MediaType != sign.DSSEMediaType || l.Annotations[sign.PredicateTypeAnnotation] != vsa.PredicateType {
			continue
		}
		p, err := vsa.Read(a.verifier, l.Payload, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.r.Verdict = p.String()
		return nil
	}
	bundles, err := a.src.bundles(d)
	if err != nil {
		return err
	}
	for _, f := range bundles {
		st := unverified(f.data)
		if f.subject != d || st == nil || st.PredicateType != vsa.PredicateType {
			continue
		}
		p, err := vsa.ReadBundle(a.verifier, f.data, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.r.Verdict = p.String()
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("no rebuild verdict among the attestations of %s (`go tool mage push` takes dist.vsa/)", d)
	}
	return fmt.Errorf("no rebuild verdict signed by the verifier's key: %w", errors.Join(errs...))
}
