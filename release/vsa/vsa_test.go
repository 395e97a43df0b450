package vsa

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/sign"
)

func hash(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }

func verdict() Verdict {
	return Verdict{Name: "things", Repository: "ghcr.io/cairn-iot", Commit: strings.Repeat("c", 40), Toolchain: "go1.26.8",
		Index: hash("a"), Rebuilt: hash("a"), Manifests: []v1.Hash{hash("1"), hash("2")}, Time: time.Unix(1700000000, 0)}
}

func TestVerdictSignsAndReadsBack(t *testing.T) {
	key, _ := sign.GenerateKey()
	env, err := verdict().Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []v1.Hash{hash("a"), hash("1"), hash("2")} {
		p, err := Read(&key.PublicKey, env, d)
		if err != nil {
			t.Fatalf("Read(%s) = %v", d, err)
		}
		want := "bit-identical rebuild of commit " + strings.Repeat("c", 40) + " with toolchain go1.26.8"
		if p.Policy.Name != want || p.VerificationResult != "PASSED" || p.Verifier.ID != DefaultVerifierID || p.TimeVerified != "2023-11-14T22:13:20Z" {
			t.Errorf("predicate = %+v, want policy %q, PASSED, the default verifier and the time", p, want)
		}
		if p.ResourceURI != "ghcr.io/cairn-iot/things@"+hash("a").String() || p.SLSAVersion != "1.0" || len(p.VerifiedLevels) != 1 {
			t.Errorf("predicate = %+v, want the index as resource, SLSA 1.0 and one level", p)
		}
	}
	_, payload, _ := sign.ParseEnvelope(env)
	var st attest.Statement
	if err := json.Unmarshal(payload, &st); err != nil || st.PredicateType != PredicateType || len(st.Subject) != 3 {
		t.Errorf("statement = %s, want a VSA about the index and its two manifests", payload)
	}
}

// A verdict is refused when it is not what it claims: another image, another key, a cut
// envelope, a rebuild that differed, a result that is not PASSED.
func TestVerdictRefusals(t *testing.T) {
	key, _ := sign.GenerateKey()
	other, _ := sign.GenerateKey()
	env, err := verdict().Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(&key.PublicKey, env, hash("f")); err == nil || !strings.Contains(err.Error(), "another image") {
		t.Errorf("Read(another digest) = %v, want an \"another image\" error", err)
	}
	if _, err := Read(&other.PublicKey, env, hash("a")); err == nil {
		t.Error("Read(another key) = nil, want an error")
	}
	if _, err := Read(&key.PublicKey, env[:len(env)/2], hash("a")); err == nil {
		t.Error("Read(truncated envelope) = nil, want an error")
	}
	v := verdict()
	v.Rebuilt = hash("b")
	if _, err := v.Sign(key); err == nil || !strings.Contains(err.Error(), "rebuild made") {
		t.Errorf("Sign(differing rebuild) = %v, want a refusal", err)
	}
	st, _ := verdict().Statement()
	failed := strings.Replace(string(st), `"PASSED"`, `"FAILED"`, 1)
	env, _ = sign.SignEnvelope(key, sign.InTotoPayloadType, []byte(failed))
	if _, err := Read(&key.PublicKey, env, hash("a")); err == nil || !strings.Contains(err.Error(), "FAILED") {
		t.Errorf("Read(FAILED verdict) = %v, want an error naming it", err)
	}
}
