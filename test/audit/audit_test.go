// Package audit_test drives signing, push, the stock cosign CLI and the audit end to end
// against a real registry (Debian's docker-registry on 127.0.0.1): a signed fixture release is
// pushed, cosign verifies it in the registry, the audit passes, and each tamper case fails
// with its own reason.
package audit_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/test/testenv"
)

var ctx = context.Background()

func newKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(f, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return k, f
}

// tamper changes one statement before it is signed: subject 0 is the index, then platforms.
type tamper func(subject int, predicateType string, st *attest.Statement)

// evidence signs and attests idx like attest.Attach, letting a test tamper with statements;
// the Sigstore bundles come only untampered.
func evidence(t *testing.T, key *ecdsa.PrivateKey, svc string, idx v1.ImageIndex, tw tamper) ([]sign.Evidence, []attest.Bundle) {
	t.Helper()
	if tw == nil {
		a, err := attest.Attach(key, attesttest.Build(), svc, "cairn/"+svc, idx)
		if err != nil {
			t.Fatal(err)
		}
		return a.Evidence, a.Bundles
	}
	d, _ := idx.Digest()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	subjects := []v1.Hash{d}
	binsOf := [][]attest.Binary{nil}
	for _, desc := range m.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		bins, err := attest.ReadBinaries(img)
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, desc.Digest)
		binsOf = append(binsOf, bins)
		binsOf[0] = append(binsOf[0], bins...)
	}
	var out []sign.Evidence
	for i, s := range subjects {
		sig, err := sign.NewSignature(key, "cairn/"+svc, s)
		if err != nil {
			t.Fatal(err)
		}
		var atts []sign.Layer
		for _, p := range []struct {
			typ  string
			pred any
		}{
			{attest.SPDXPredicateType, attest.SBOM(svc, attesttest.Build().Version, s, binsOf[i], attesttest.Epoch)},
			{attest.CycloneDXPredicateType, attest.CycloneDXBOM(svc, attesttest.Build().Version, s, binsOf[i], attesttest.Epoch)},
			{attest.ProvenancePredicateType, attest.NewProvenance(attesttest.Build(), binsOf[i])},
		} {
			raw, err := attest.NewStatement(svc, s, p.typ, p.pred)
			if err != nil {
				t.Fatal(err)
			}
			st, err := attest.ParseStatement(raw)
			if err != nil {
				t.Fatal(err)
			}
			tw(i, p.typ, st)
			raw, err = json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			att, err := sign.NewAttestation(key, p.typ, raw)
			if err != nil {
				t.Fatal(err)
			}
			atts = append(atts, att)
		}
		sigImg, err := sign.Image([]sign.Layer{sig}, attesttest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		attImg, err := sign.Image(atts, attesttest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sign.Evidence{Subject: s, Signatures: sigImg, Attestations: attImg})
	}
	return out, nil
}

// writeDist writes a signed fixture release of svc (version v1.2.3) into a new dist dir.
func writeDist(t *testing.T, key *ecdsa.PrivateKey, svc string, tw tamper) string {
	t.Helper()
	dist := t.TempDir()
	idx := attesttest.Index(t, svc)
	ev, bundles := evidence(t, key, svc, idx, tw)
	if err := sign.WriteLayout(filepath.Join(dist, "cosign", svc), svc, idx, ev); err != nil {
		t.Fatal(err)
	}
	if len(bundles) > 0 {
		dir := filepath.Join(dist, "bundles", svc)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range bundles {
			if err := os.WriteFile(filepath.Join(dir, b.Name), b.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	d, _ := idx.Digest()
	rec := map[string]any{"version": "v1.2.3", "epoch": attesttest.Epoch.Unix(), "images": []map[string]string{{"name": svc, "index": d.String()}}}
	data, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dist, "release.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dist
}

func runAudit(t *testing.T, ref string, key *ecdsa.PrivateKey) *audit.Report {
	t.Helper()
	r, err := audit.Audit(ctx, ref, audit.Options{Key: &key.PublicKey})
	if err != nil {
		t.Fatalf("Audit(%s) = %v", ref, err)
	}
	return r
}

// wantFail checks the report failed, and that a failed check named like check has reason.
func wantFail(t *testing.T, r *audit.Report, check, reason string) {
	t.Helper()
	if r.Pass {
		t.Fatalf("Audit(%s).Pass = true, want FAIL on %q", r.Ref, check)
	}
	for _, c := range r.Failed() {
		if strings.Contains(c.Name, check) && strings.Contains(c.Detail, reason) {
			return
		}
	}
	var b strings.Builder
	r.Text(&b)
	t.Errorf("Audit(%s) has no failed check %q with reason %q:\n%s", r.Ref, check, reason, b.String())
}

// snapshot lists every tag of repo with the digest it points to.
func snapshot(t *testing.T, repo name.Repository) map[string]string {
	t.Helper()
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatalf("listing %s: %v", repo, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		desc, err := remote.Head(repo.Tag(tag))
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = desc.Digest.String()
	}
	return out
}

func TestPushVerifyAudit(t *testing.T) {
	cosign := attesttest.Cosign(t)
	_ = cosign
	host := testenv.Registry(t)
	key, pubFile := newKey(t)
	dist := writeDist(t, key, "things", nil)
	prefix := host + "/cairn"

	// The legacy tags alone, as cosign v2 and admission controllers such as
	// policy-controller read them (TestBundlesAsReferrers pushes the bundles).
	pushed, err := push.Dist(ctx, dist, prefix, push.Options{NoBundles: true})
	if err != nil {
		t.Fatalf("push.Dist() = %v", err)
	}
	if len(pushed) != 1 || !strings.HasPrefix(pushed[0].Ref, prefix+"/things@sha256:") {
		t.Fatalf("push.Dist() = %+v, want things pushed by digest", pushed)
	}
	repo, err := name.NewRepository(prefix + "/things")
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, repo)
	tags := make([]string, 0, len(before))
	for tag := range before {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	// version, latest, and .sig/.att for the index and both platforms.
	if len(tags) != 8 || before["v1.2.3"] != before["latest"] || "sha256:"+strings.TrimPrefix(pushed[0].Ref, prefix+"/things@sha256:") != before["v1.2.3"] {
		t.Fatalf("tags after push = %v, want v1.2.3 = latest = the index and 6 cosign tags", before)
	}

	t.Run("cosign verifies the registry", func(t *testing.T) {
		ref := prefix + "/things:v1.2.3"
		for _, args := range [][]string{
			{"verify", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", ref},
			{"verify-attestation", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", "slsaprovenance1", ref},
			{"verify-attestation", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", "spdxjson", ref},
			{"verify-attestation", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", "cyclonedx", ref},
		} {
			if out, err := attesttest.RunCosign(t, nil, args...); err != nil {
				t.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	t.Run("re-push changes nothing", func(t *testing.T) {
		if _, err := push.Dist(ctx, dist, prefix, push.Options{NoBundles: true}); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, repo)
		if len(after) != len(before) {
			t.Fatalf("tags after re-push = %v, want %v", after, before)
		}
		for tag, d := range before {
			if after[tag] != d {
				t.Errorf("tag %s after re-push = %s, want %s", tag, after[tag], d)
			}
		}
	})

	for _, ref := range []string{prefix + "/things:v1.2.3", pushed[0].Ref, "oci:" + filepath.Join(dist, "cosign", "things"), filepath.Join(dist, "cosign", "things")} {
		t.Run("audit passes "+ref, func(t *testing.T) {
			r := runAudit(t, ref, key)
			if !r.Pass {
				var b strings.Builder
				r.Text(&b)
				t.Fatalf("Audit(%s) failed:\n%s", ref, b.String())
			}
			if r.Commit != attesttest.Build().Commit || !strings.HasPrefix(r.Toolchain, "go1.") || len(r.Modules) == 0 {
				t.Errorf("Audit(%s) commit, toolchain, modules = %s, %s, %v, want the fixture's", ref, r.Commit, r.Toolchain, r.Modules)
			}
		})
	}

	t.Run("unsigned image", func(t *testing.T) {
		idx := attesttest.Index(t, "unsigned")
		ref := prefix + "/unsigned:v1"
		r, _ := name.ParseReference(ref)
		if err := remote.WriteIndex(r, idx); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, ref, key), "index signature", "unsigned image")
	})

	t.Run("wrong key", func(t *testing.T) {
		other, _ := newKey(t)
		r := runAudit(t, prefix+"/things:v1.2.3", other)
		wantFail(t, r, "index signature", "signature does not verify")
		wantFail(t, r, "index provenance", "do not verify")
	})

	t.Run("tampered layer", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "things")
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(dist, "cosign", "things"))); err != nil {
			t.Fatal(err)
		}
		idx := attesttest.Index(t, "things")
		m, _ := idx.IndexManifest()
		img, _ := idx.Image(m.Manifests[0].Digest)
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		blob := filepath.Join(dir, "blobs", "sha256", ld.Hex)
		data, err := os.ReadFile(blob)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(blob, data, 0o644); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, "oci:"+dir, key), "linux/amd64 layers", "altered")
	})

	t.Run("sbom disagrees with the binary", func(t *testing.T) {
		bad := writeDist(t, key, "badsbom", func(subject int, typ string, st *attest.Statement) {
			if typ != attest.SPDXPredicateType {
				return
			}
			var doc attest.SPDX
			json.Unmarshal(st.Predicate, &doc)
			for i, p := range doc.Packages {
				if p.Name == "github.com/google/go-containerregistry" {
					doc.Packages[i].VersionInfo = "v0.0.1"
				}
			}
			st.Predicate, _ = json.Marshal(doc)
		})
		if _, err := push.Dist(ctx, bad, prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, prefix+"/badsbom:v1.2.3", key), "sbom matches binary", "github.com/google/go-containerregistry@v0.0.1")
	})

	t.Run("cyclonedx disagrees with the binary", func(t *testing.T) {
		bad := writeDist(t, key, "badcdx", func(subject int, typ string, st *attest.Statement) {
			if typ != attest.CycloneDXPredicateType {
				return
			}
			var doc attest.CycloneDX
			json.Unmarshal(st.Predicate, &doc)
			for i, c := range doc.Components {
				if c.Name == "github.com/google/go-containerregistry" {
					doc.Components[i].Version = "v0.0.1"
				}
			}
			st.Predicate, _ = json.Marshal(doc)
		})
		if _, err := push.Dist(ctx, bad, prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, prefix+"/badcdx:v1.2.3", key), "cyclonedx matches binary", "github.com/google/go-containerregistry@v0.0.1")
	})

	t.Run("cyclonedx for another digest", func(t *testing.T) {
		bad := writeDist(t, key, "badcdxsubject", func(subject int, typ string, st *attest.Statement) {
			if typ == attest.CycloneDXPredicateType && subject == 1 {
				st.Subject[0].Digest["sha256"] = strings.Repeat("0", 64)
			}
		})
		if _, err := push.Dist(ctx, bad, prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, prefix+"/badcdxsubject:v1.2.3", key), "linux/amd64 cyclonedx", "for another digest")
	})

	t.Run("provenance for another digest", func(t *testing.T) {
		bad := writeDist(t, key, "badprov", func(subject int, typ string, st *attest.Statement) {
			if typ == attest.ProvenancePredicateType && subject == 0 {
				st.Subject[0].Digest["sha256"] = strings.Repeat("0", 64)
			}
		})
		if _, err := push.Dist(ctx, bad, prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, prefix+"/badprov:v1.2.3", key), "index provenance", "for another digest")
	})

	t.Run("cairn-audit command", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "cairn-audit")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/cairn-iot/cairn/release/cmd/cairn-audit").CombinedOutput(); err != nil {
			t.Fatalf("building cairn-audit: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "--key", pubFile, "--json", prefix+"/things:v1.2.3").Output()
		var rep audit.Report
		if err != nil || json.Unmarshal(out, &rep) != nil || !rep.Pass {
			t.Errorf("cairn-audit --json things = %v, %s, want exit 0 and a passing JSON report", err, out)
		}
		out, err = exec.Command(bin, "--key", pubFile, prefix+"/unsigned:v1").CombinedOutput()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "FAIL index signature: unsigned image") {
			t.Errorf("cairn-audit unsigned = %v, %s, want exit 1 naming the unsigned image", err, out)
		}
	})
}
