package verify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/signstep"
)

// Dirs below dist/ that this package checks.
const (
	CosignDir       = "cosign"
	AttestationsDir = "attestations"
	BundlesDir      = "bundles"
)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// fileSuffix is the plain JSON copy's name per predicate type, as attest.Attach names them:
// "<suffix>" for the index, "<os>_<arch>[_<variant>].<suffix>" per platform.
var fileSuffix = map[string]string{
	attest.SPDXPredicateType:       "sbom.spdx.json",
	attest.CycloneDXPredicateType:  "sbom.cdx.json",
	attest.ProvenancePredicateType: "provenance.slsa.json",
}

// Key is the public key the evidence must verify with, and where it came from (for the
// report). A nil K with a non-empty Err means no key could be found.
type Key struct {
	K    *ecdsa.PublicKey
	From string
	Err  error
}

// PublicKey finds the release's public key the way `go tool mage audit` does:
// COSIGN_PUBLIC_KEY, else the public half of COSIGN_KEY (with COSIGN_PASSWORD), else the
// development key moduleDir/.cairn/keys/cosign.pub.
func PublicKey(getenv func(string) string, moduleDir string) (*ecdsa.PublicKey, string, error) {
	if f := getenv("COSIGN_PUBLIC_KEY"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("reading COSIGN_PUBLIC_KEY: %w", err)
		}
		k, err := sign.ParsePublicKey(data)
		if err != nil {
			return nil, "", fmt.Errorf("COSIGN_PUBLIC_KEY %s: %w", f, err)
		}
		return k, f + " (COSIGN_PUBLIC_KEY)", nil
	}
	if f := getenv("COSIGN_KEY"); f != "" {
		k, err := signstep.KeysFromEnv(getenv).Load(moduleDir, func(string, ...any) {})
		if err != nil {
			return nil, "", err
		}
		return &k.PublicKey, "the public key of " + f + " (COSIGN_KEY)", nil
	}
	f := filepath.Join(moduleDir, filepath.FromSlash(signstep.DevKeyDir), "cosign.pub")
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, "", fmt.Errorf("expected a public key in COSIGN_PUBLIC_KEY, COSIGN_KEY or %s, found none (%w); set COSIGN_PUBLIC_KEY to the release's cosign.pub", f, err)
	}
	k, err := sign.ParsePublicKey(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", f, err)
	}
	return k, f + " (development key)", nil
}

// Evidence checks the evidence beside the images of the release rec in dist and returns one
// record.Check per property, named "cosign/<svc> ...", "bundles/<svc> ..." and
// "attestations/<svc>/...", in a fixed order (images in record order). key is only needed
// when dist/cosign exists.
//
// The signatures are randomised ECDSA, so a rebuild cannot reproduce them: each
// dist/cosign/<svc> is audited in-process with audit.Audit and key (the signatures, SBOMs
// and provenance of the index and of each platform manifest; the layers and binaries against
// those documents), and audited again from the Sigstore bundles of dist/bundles/<svc> where
// the release has them. The signed index must be the one in
// release.json and in dist/oci; every file of dist/attestations/<svc> must be exactly the
// indented JSON of an attestation payload of the signed layout, and every payload must have
// its file; a directory of dist/cosign that is not an image of rec fails. An unsigned dist/
// (no dist/cosign: -mode build or images) gives one skipped check, unless dist/attestations
// exists without it.
func Evidence(ctx context.Context, dist string, rec *record.Release, key Key) []record.Check {
	var out []record.Check
	add := func(name string, err error) {
		c := record.Check{Name: name, Pass: err == nil}
		if err != nil {
			c.Detail = err.Error()
		}
		out = append(out, c)
	}
	cosignRoot := filepath.Join(dist, CosignDir)
	if _, err := os.Stat(cosignRoot); errors.Is(err, os.ErrNotExist) {
		detail := "not signed: skipped (no dist/cosign: a release of -mode build or images)"
		if _, err := os.Stat(filepath.Join(dist, AttestationsDir)); err == nil {
			add(CosignDir, errors.New("dist/attestations exists but dist/cosign does not: the signed layouts were removed"))
			return out
		}
		return append(out, record.Check{Name: CosignDir, Pass: true, Skipped: true, Detail: detail})
	}
	if key.K == nil {
		err := key.Err
		if err == nil {
			err = errors.New("expected a public key, found none")
		}
		add(CosignDir+" key", fmt.Errorf("dist/cosign cannot be audited: %w", err))
		return out
	}
	var ociLayout *sign.Layout
	ociLayout, ociErr := sign.OpenLayout(filepath.Join(dist, "oci"))

	known := map[string]bool{}
	for _, im := range rec.Images {
		known[im.Name] = true
		name := CosignDir + "/" + im.Name
		dir := filepath.Join(cosignRoot, im.Name)
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			add(name, fmt.Errorf("expected the signed layout of image %s, found none (%v); rerun `go tool mage release`", im.Name, err))
			continue
		}
		r, err := audit.Audit(ctx, "oci:"+dir+":"+im.Name, audit.Options{Key: key.K})
		if err != nil {
			add(name+" audit", err)
			continue
		}
		out = append(out, prefixed(name, r.Checks)...)
		// And the same evidence as Sigstore bundles, dist/bundles/<svc>, where the release has
		// them (a release from before them has none).
		if bdir := filepath.Join(dist, BundlesDir, im.Name); exists(bdir) {
			br, err := audit.Audit(ctx, "oci:"+dir+":"+im.Name, audit.Options{Key: key.K, Bundles: bdir})
			if err != nil {
				add(BundlesDir+"/"+im.Name+" audit", err)
				continue
			}
			out = append(out, prefixed(BundlesDir+"/"+im.Name, br.Checks)...)
		}
		add(name+" index digest", indexDigest(r.Digest, im, ociLayout, ociErr))
		out = append(out, attestationFiles(dist, dir, im.Name, key.K)...)
	}
	entries, err := os.ReadDir(cosignRoot)
	if err != nil {
		add(CosignDir, err)
	}
	for _, e := range entries {
		if !known[e.Name()] {
			add(CosignDir+"/"+e.Name(), fmt.Errorf("not an image of release.json (%d images); remove it or rerun `go tool mage release`", len(rec.Images)))
		}
	}
	return out
}

// prefixed returns the audit's checks named below prefix.
func prefixed(prefix string, checks []record.Check) []record.Check {
	out := make([]record.Check, len(checks))
	for i, c := range checks {
		c.Name = prefix + " " + c.Name
		out[i] = c
	}
	return out
}

// indexDigest checks that the signed index is the one recorded and the one in dist/oci.
func indexDigest(signed string, im record.Image, oci *sign.Layout, ociErr error) error {
	if ociErr != nil {
		return fmt.Errorf("reading dist/oci: %w", ociErr)
	}
	var inOCI string
	if idx, err := oci.Index(im.Name); err != nil {
		inOCI = "none (" + err.Error() + ")"
	} else if d, err := idx.Digest(); err != nil {
		inOCI = "unreadable (" + err.Error() + ")"
	} else {
		inOCI = d.String()
	}
	if signed == im.Index && inOCI == im.Index {
		return nil
	}
	return fmt.Errorf("expected the signed index, release.json and dist/oci to name one index; found signed %s, release.json %s, dist/oci %s", orNone(signed), im.Index, inOCI)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// attestationFiles checks dist/attestations/<svc> against the attestation payloads of the
// signed layout dir: each file must be exactly the indented payload, and each payload must
// have its file. The payloads are read from the index's and each platform manifest's .att.
func attestationFiles(dist, dir, svc string, key *ecdsa.PublicKey) []record.Check {
	prefix := AttestationsDir + "/" + svc
	want, order, problems := expectedCopies(dir, svc, key)
	filesDir := filepath.Join(dist, AttestationsDir, svc)
	have, err := readCopies(filesDir)
	if err != nil {
		problems = append(problems, record.Check{Name: prefix, Detail: fmt.Sprintf("expected the plain JSON copies of the attestations, found none: %v", err)})
	}
	var names []string
	for n := range have {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	names = append(order, names...)
	out := problems
	for _, n := range names {
		c := record.Check{Name: prefix + "/" + n}
		w, inLayout := want[n]
		h, onDisk := have[n]
		switch {
		case !inLayout:
			c.Detail = "no verified attestation of the signed layout has this name; the file is not evidence of this release"
		case !onDisk:
			if err != nil {
				continue // already reported for the directory
			}
			c.Detail = "missing: the signed layout has this attestation, dist/attestations has no copy"
		case h.err != nil:
			c.Detail = h.err.Error()
		case bytes.Equal(w, h.b):
			c.Pass = true
		default:
			c.Detail = fmt.Sprintf("differs from the attestation payload in dist/cosign/%s (%s)", svc, firstDifference(w, h.b))
		}
		out = append(out, c)
	}
	return out
}

// copySubject is a subject of a signed layout and the prefix of its copies' file names:
// "" for the index, "<os>_<arch>[_<variant>]." for a platform.
type copySubject struct {
	digest v1.Hash
	prefix string
}

// layoutSubjects returns the index named svc in the signed layout l and its platforms.
func layoutSubjects(l *sign.Layout, svc string) ([]copySubject, error) {
	idx, err := l.Index(svc)
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	subs := []copySubject{{d, ""}}
	for _, desc := range m.Manifests {
		plat := "unknown"
		if desc.Platform != nil {
			plat = strings.ReplaceAll(desc.Platform.String(), "/", "_")
		}
		subs = append(subs, copySubject{desc.Digest, plat + "."})
	}
	return subs, nil
}

// expectedCopies returns, by file name in the order found, the exact bytes signstep writes
// for each attestation of the signed layout in dir that verifies with key; and the
// subjects whose attestations could not be read.
func expectedCopies(dir, svc string, key *ecdsa.PublicKey) (want map[string][]byte, order []string, problems []record.Check) {
	prefix := AttestationsDir + "/" + svc
	want = map[string][]byte{}
	l, err := sign.OpenLayout(dir)
	var subs []copySubject
	if err == nil {
		subs, err = layoutSubjects(l, svc)
	}
	if err != nil {
		return want, nil, []record.Check{{Name: prefix, Detail: err.Error()}}
	}
	for _, s := range subs {
		tag := sign.Tag(s.digest, sign.AttestationSuffix)
		img, err := l.Image(tag)
		if err == nil && img == nil {
			err = errors.New("missing")
		}
		var layers []sign.Layer
		if err == nil {
			layers, err = sign.Layers(img)
		}
		if err != nil {
			problems = append(problems, record.Check{Name: prefix + " " + tag, Detail: fmt.Sprintf("reading the attestations %s of the signed layout: %v", tag, err)})
			continue
		}
		for _, layer := range layers {
			suffix, pretty, ok := plainCopy(layer, key)
			if !ok {
				continue
			}
			name := s.prefix + suffix
			if _, dup := want[name]; !dup {
				order = append(order, name)
			}
			want[name] = pretty
		}
	}
	return want, order, problems
}

// plainCopy returns the file suffix and the indented JSON of an attestation layer whose
// envelope verifies with key and whose predicate has a plain copy; ok is false otherwise
// (the audit names a bad envelope; a copy of an unverified payload proves nothing).
func plainCopy(layer sign.Layer, key *ecdsa.PublicKey) (suffix string, pretty []byte, ok bool) {
	if layer.MediaType != sign.DSSEMediaType {
		return "", nil, false
	}
	typ, payload, err := sign.VerifyEnvelope(key, layer.Payload)
	if err != nil || typ != sign.InTotoPayloadType {
		return "", nil, false
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		return "", nil, false
	}
	if suffix, ok = fileSuffix[st.PredicateType]; !ok {
		return "", nil, false
	}
	var b bytes.Buffer
	if err := json.Indent(&b, payload, "", "  "); err != nil {
		return "", nil, false
	}
	b.WriteByte('\n')
	return suffix, b.Bytes(), true
}

// copyFile is a file of dist/attestations/<svc>, or why it could not be read.
type copyFile struct {
	b   []byte
	err error
}

// readCopies reads the regular files of dir by name.
func readCopies(dir string) (map[string]copyFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	have := map[string]copyFile{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		have[e.Name()] = copyFile{b, err}
	}
	return have, nil
}

// firstDifference says where two JSON texts first differ, with a little context.
func firstDifference(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	snip := func(b []byte) string {
		end := min(i+40, len(b))
		return fmt.Sprintf("%q", b[min(i, len(b)):end])
	}
	return fmt.Sprintf("at byte %d: the payload has %s, the file %s", i, snip(want), snip(got))
}

// Merge appends checks to the report and recomputes Pass.
func Merge(r *record.Report, checks []record.Check) {
	r.Checks = append(r.Checks, checks...)
	r.Pass = true
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.Pass
	}
}
