package audit_test

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/release/sign"
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
			if r := runAudit(t, ref, key); !r.Pass || r.Formats["index"] != audit.FormatBundles {
				t.Errorf("Audit(%s) = pass %v, formats %v, failed %v; want a pass from the bundles", ref, r.Pass, r.Formats, r.Failed())
			}
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
			if r := runAudit(t, ref, key); !r.Pass {
				t.Errorf("Audit(%s, bundles alone) failed: %v", ref, r.Failed())
			}
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

// The audit reads the bundles when a registry has them and says so, and refuses bundles that
// do not belong: a signature bundle about another digest, a referrer that names another
// subject, a truncated bundle.
func TestAuditReadsBundles(t *testing.T) {
	key, _ := newKey(t)
	host := testenv.Registry(t) // distribution 2.8: the referrers tag schema, which a test can edit
	dist := writeDist(t, key, "things", nil)
	idx := attesttest.Index(t, "things")
	d, _ := idx.Digest()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	amd64 := m.Manifests[0]
	indexBundle := func(kind string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dist, "bundles", "things", kind+".sigstore.json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	push1 := func(t *testing.T, prefix string) name.Repository {
		t.Helper()
		if _, err := push.Dist(ctx, dist, host+"/"+prefix, push.Options{}); err != nil {
			t.Fatal(err)
		}
		repo, err := name.NewRepository(host + "/" + prefix + "/things")
		if err != nil {
			t.Fatal(err)
		}
		return repo
	}

	t.Run("bundles preferred", func(t *testing.T) {
		push1(t, "prefer")
		r := runAudit(t, host+"/prefer/things:v1.2.3", key)
		if !r.Pass || len(r.Formats) != 3 {
			t.Fatalf("Audit = pass %v, formats %v, want a pass from 3 subjects", r.Pass, r.Formats)
		}
		for label, f := range r.Formats {
			if f != audit.FormatBundles {
				t.Errorf("Audit read %s from %q, want %q", label, f, audit.FormatBundles)
			}
		}
	})
	t.Run("a signature bundle for another digest", func(t *testing.T) {
		repo := push1(t, "otherdigest")
		// The index's own signature bundle, attached to the amd64 image as if it were its.
		addReferrer(t, repo, amd64, indexBundle("signature"), "https://sigstore.dev/cosign/sign/v1")
		wantFail(t, runAudit(t, repo.String()+":v1.2.3", key), "linux/amd64 signature", "for another digest")
	})
	t.Run("a referrer that names another subject", func(t *testing.T) {
		repo := push1(t, "othersubject")
		// A referrer of the amd64 image, listed in the index's referrers tag.
		desc := addReferrer(t, repo, amd64, indexBundle("sbom.spdx"), "https://spdx.dev/Document")
		fallback := repo.Tag(d.Algorithm + "-" + d.Hex)
		ii, err := remote.Index(fallback)
		if err != nil {
			t.Fatal(err)
		}
		im, err := ii.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		im.Manifests = append(im.Manifests, desc)
		if err := remote.Put(fallback, rawIndex{im}); err != nil {
			t.Fatal(err)
		}
		wantFail(t, runAudit(t, repo.String()+":v1.2.3", key), "index bundles", "not to "+d.String())
	})
	t.Run("a truncated bundle", func(t *testing.T) {
		repo := push1(t, "truncated")
		b := indexBundle("provenance.slsa")
		addReferrer(t, repo, v1.Descriptor{MediaType: "application/vnd.oci.image.index.v1+json", Digest: d, Size: rawSize(t, idx)}, b[:len(b)/2], "https://slsa.dev/provenance/v1")
		wantFail(t, runAudit(t, repo.String()+":v1.2.3", key), "index bundles", "decoding Sigstore bundle")
	})
}

// addReferrer pushes bundle as a referrer of subject into repo and returns its descriptor.
func addReferrer(t *testing.T, repo name.Repository, subject v1.Descriptor, bundle []byte, predicateType string) v1.Descriptor {
	t.Helper()
	r, err := sign.NewReferrer(subject, bundle, predicateType, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []v1.Layer{static.NewLayer(bundle, sign.BundleMediaType), static.NewLayer(sign.EmptyJSON, sign.EmptyMediaType)} {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(repo.Digest(r.Digest.String()), r); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: r.Digest, Size: int64(len(r.Manifest)), ArtifactType: sign.BundleMediaType}
}

// rawIndex pushes an edited index manifest as it is.
type rawIndex struct{ m *v1.IndexManifest }

func (r rawIndex) RawManifest() ([]byte, error) { return json.Marshal(r.m) }
func (r rawIndex) MediaType() (types.MediaType, error) {
	return types.OCIImageIndex, nil
}

func rawSize(t *testing.T, idx v1.ImageIndex) int64 {
	t.Helper()
	n, err := idx.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The bundle files of dist/bundles are what stock cosign v3 verifies offline as blob
// attestations: the blob is the manifest the statement is about (here, the index).
func TestBundleFilesVerifyAsBlobAttestations(t *testing.T) {
	attesttest.Cosign3(t)
	key, pubFile := newKey(t)
	dist := writeDist(t, key, "things", nil)
	raw, err := attesttest.Index(t, "things").RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(t.TempDir(), "index.json")
	if err := os.WriteFile(blob, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for kind, typ := range map[string]string{"sbom.spdx": "spdxjson", "sbom.cdx": "cyclonedx", "provenance.slsa": "slsaprovenance1"} {
		bundle := filepath.Join(dist, "bundles", "things", kind+".sigstore.json")
		args := []string{"verify-blob-attestation", "--bundle", bundle, "--key", pubFile, "--type", typ, "--insecure-ignore-tlog", blob}
		if out, err := attesttest.RunCosign3(t, nil, args...); err != nil {
			t.Errorf("cosign v3 %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Another blob is refused.
	other := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(other, append(raw, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify-blob-attestation", "--bundle", filepath.Join(dist, "bundles", "things", "sbom.spdx.sigstore.json"), "--key", pubFile, "--type", "spdxjson", "--insecure-ignore-tlog", other}
	if out, err := attesttest.RunCosign3(t, nil, args...); err == nil {
		t.Errorf("cosign v3 verified a bundle against another blob:\n%s", out)
	}
}
