package audit_test

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/test/testenv"
)

// referrersRegistry serves go-containerregistry's registry with the OCI 1.1 referrers API on
// loopback, for the test's lifetime, and returns its host.
func referrersRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// The release's Sigstore bundles, pushed as OCI 1.1 referrers, verify with stock cosign v3
// on a registry with the referrers API (go-containerregistry's) and on one without
// (distribution 2.8, through the referrers tag schema); stock cosign v2 still verifies the
// legacy tags pushed beside them.
func TestBundlesAsReferrers(t *testing.T) {
	attesttest.Cosign3(t)
	key, pubFile := newKey(t)
	for _, reg := range []struct{ name, host string }{
		{"referrers API", referrersRegistry(t)},
		{"referrers tag schema", testenv.Registry(t)},
	} {
		t.Run(reg.name, func(t *testing.T) {
			dist := writeDist(t, key, "things", nil)
			prefix := reg.host + "/bundles"
			if _, err := push.Dist(ctx, dist, prefix, push.Options{}); err != nil {
				t.Fatalf("push.Dist() = %v", err)
			}
			ref := prefix + "/things:v1.2.3"
			verify3(t, pubFile, ref, true)
			// cosign v2.6.5 also prefers the bundles when a registry has them, and then asks for
			// a trusted root, which an empty one satisfies (the key is the trust).
			root := filepath.Join(t.TempDir(), "trusted_root.json")
			if err := os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := attesttest.RunCosign(t, nil, "verify", "--key", pubFile, "--allow-insecure-registry", "--insecure-ignore-tlog", "--trusted-root", root, ref); err != nil {
				t.Errorf("cosign v2 verify: %v\n%s", err, out)
			}

			// Without the legacy tags, cosign v3 finds everything, and no .sig or .att tag is
			// pushed.
			legacyFree := reg.host + "/nolegacy"
			if _, err := push.Dist(ctx, dist, legacyFree, push.Options{NoLegacy: true}); err != nil {
				t.Fatalf("push.Dist(NoLegacy) = %v", err)
			}
			ref = legacyFree + "/things:v1.2.3"
			verify3(t, pubFile, ref, true)
			repo, err := name.NewRepository(legacyFree + "/things")
			if err != nil {
				t.Fatal(err)
			}
			for tag := range snapshot(t, repo) {
				if strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") {
					t.Errorf("push without the legacy tags pushed %s", tag)
				}
			}
			// And the wrong key fails.
			_, otherPub := newKey(t)
			verify3(t, otherPub, ref, false)
		})
	}
}

// verify3 runs stock cosign v3's verify and verify-attestation (SPDX, CycloneDX, SLSA
// provenance) on ref with the public key pub, and wants them all to pass, or all to fail.
func verify3(t *testing.T, pub, ref string, pass bool) {
	t.Helper()
	common := []string{"--key", pub, "--allow-insecure-registry", "--insecure-ignore-tlog"}
	for _, args := range [][]string{
		append([]string{"verify"}, common...),
		append([]string{"verify-attestation", "--type", "spdxjson"}, common...),
		append([]string{"verify-attestation", "--type", "cyclonedx"}, common...),
		append([]string{"verify-attestation", "--type", "slsaprovenance1"}, common...),
	} {
		out, err := attesttest.RunCosign3(t, nil, append(args, ref)...)
		if (err == nil) != pass {
			t.Errorf("cosign v3 %s %s: err = %v, want pass %v\n%s", strings.Join(args, " "), ref, err, pass, out)
		}
	}
}
