package audit_test

import (
	"crypto/ecdsa"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
	"github.com/cairn-iot/cairn/test/testenv"
)

// writeVerdict signs a rebuild verdict about the fixture index of svc (as `cairn-release
// verify -vsa-key` does after a bit-identical rebuild) into a new directory, about index
// (the fixture's, unless another digest is given).
func writeVerdict(t *testing.T, svc string, index *v1.Hash) (dir string, pubFile string) {
	t.Helper()
	key, pubFile := newKey(t)
	idx := attesttest.Index(t, svc)
	d, _ := idx.Digest()
	if index != nil {
		d = *index
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	v := vsa.Verdict{Name: svc, Repository: "ghcr.io/cairn-iot", Commit: attesttest.Build().Commit, Toolchain: "go1.26.8",
		Index: d, Rebuilt: d, Time: time.Unix(1800000000, 0)}
	for _, desc := range m.Manifests {
		v.Manifests = append(v.Manifests, desc.Digest)
	}
	dir = t.TempDir()
	if _, err := v.Write(key, dir); err != nil {
		t.Fatal(err)
	}
	return dir, pubFile
}

// A rebuild verdict pushed with the release is found by the audit with the verifier's key
// and by stock cosign (v3 among the referrers, v2 among the legacy attestations of a push
// without bundles), and changes nothing for a verifier of the release key alone.
func TestRebuildVerdict(t *testing.T) {
	attesttest.Cosign(t)
	attesttest.Cosign3(t)
	host := testenv.Registry(t)
	key, pubFile := newKey(t)
	prefix := host + "/verdict"
	dist := writeDist(t, key, "things", nil)
	verdicts, verifierPub := writeVerdict(t, "things", nil)
	if _, err := push.Dist(ctx, dist, prefix, push.Options{Verdicts: verdicts}); err != nil {
		t.Fatalf("push.Dist(with verdicts) = %v", err)
	}
	if _, err := push.Dist(ctx, dist, host+"/verdict-legacy", push.Options{Verdicts: verdicts, NoBundles: true}); err != nil {
		t.Fatalf("push.Dist(with verdicts, no bundles) = %v", err)
	}
	ref := prefix + "/things:v1.2.3"
	legacyRef := host + "/verdict-legacy/things:v1.2.3"
	verifier := readPub(t, verifierPub)

	r, err := audit.Audit(ctx, ref, audit.Options{Key: &key.PublicKey, VerifierKey: verifier})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pass || !strings.Contains(r.Verdict, "PASSED: bit-identical rebuild of commit "+attesttest.Build().Commit+" with toolchain go1.26.8") {
		var b strings.Builder
		r.Text(&b)
		t.Errorf("Audit(with the verifier's key) = verdict %q:\n%s", r.Verdict, b.String())
	}
	if r := runAudit(t, ref, key); !r.Pass {
		t.Errorf("Audit(release key only) failed with a verdict among the attestations: %v", r.Failed())
	}
	for _, c := range []struct {
		run  func(testing.TB, []string, ...string) (string, error)
		args []string
	}{
		{attesttest.RunCosign3, []string{"verify-attestation", "--key", verifierPub, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", vsa.PredicateType, ref}},
		{attesttest.RunCosign, []string{"verify-attestation", "--key", verifierPub, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", vsa.PredicateType, legacyRef}},
		{attesttest.RunCosign, []string{"verify-attestation", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", "--type", "slsaprovenance1", legacyRef}},
	} {
		if out, err := c.run(t, nil, c.args...); err != nil {
			t.Errorf("cosign %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
	}

	t.Run("the verdict among the bundles alone", func(t *testing.T) {
		if _, err := push.Dist(ctx, dist, host+"/verdict-bundles", push.Options{Verdicts: verdicts, NoLegacy: true}); err != nil {
			t.Fatal(err)
		}
		r, err := audit.Audit(ctx, host+"/verdict-bundles/things:v1.2.3", audit.Options{Key: &key.PublicKey, VerifierKey: verifier})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Pass || !strings.Contains(r.Verdict, "PASSED: bit-identical rebuild") {
			t.Errorf("Audit(bundles only) = pass %v, verdict %q, failed %v", r.Pass, r.Verdict, r.Failed())
		}
	})
	t.Run("another verifier's key", func(t *testing.T) {
		_, otherPub := newKey(t)
		r, err := audit.Audit(ctx, ref, audit.Options{Key: &key.PublicKey, VerifierKey: readPub(t, otherPub)})
		if err != nil {
			t.Fatal(err)
		}
		wantFail(t, r, "index rebuild verdict", "no rebuild verdict signed by the verifier's key")
	})
	t.Run("no verdict pushed", func(t *testing.T) {
		if _, err := push.Dist(ctx, writeDist(t, key, "plain", nil), prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		r, err := audit.Audit(ctx, prefix+"/plain:v1.2.3", audit.Options{Key: &key.PublicKey, VerifierKey: verifier})
		if err != nil {
			t.Fatal(err)
		}
		wantFail(t, r, "index rebuild verdict", "no rebuild verdict")
	})
	t.Run("a verdict about another image is not pushed", func(t *testing.T) {
		other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		dir, _ := writeVerdict(t, "things", &other)
		_, err := push.Dist(ctx, writeDist(t, key, "things", nil), host+"/verdict2", push.Options{Verdicts: dir})
		if err == nil || !strings.Contains(err.Error(), "not a verdict about") {
			t.Errorf("push.Dist(verdict for another digest) = %v, want a refusal", err)
		}
	})
}

func readPub(t *testing.T, file string) *ecdsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
