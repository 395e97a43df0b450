package faults_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/verify"
)

// layoutIndex is an OCI layout's index.json, kept generic so a rewrite keeps every field.
type layoutIndex struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType,omitempty"`
	Manifests     []map[string]any `json:"manifests"`
}

func readIndex(t *testing.T, dir string) *layoutIndex {
	t.Helper()
	var idx layoutIndex
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return &idx
}

func writeIndex(t *testing.T, dir string, idx *layoutIndex) {
	t.Helper()
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// entry returns the manifest entry of idx named ref (org.opencontainers.image.ref.name).
func entry(t *testing.T, idx *layoutIndex, ref string) map[string]any {
	t.Helper()
	for _, m := range idx.Manifests {
		if a, _ := m["annotations"].(map[string]any); a != nil && a["org.opencontainers.image.ref.name"] == ref {
			return m
		}
	}
	t.Fatalf("no entry %q in the layout index", ref)
	return nil
}

// copyBlobs copies every blob of layout src into layout dst.
func copyBlobs(t *testing.T, src, dst string) {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(src, "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "blobs", "sha256", filepath.Base(b)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// otherRelease releases the fixture again in a new module, as version with the env
// overrides, and returns its dist.
func otherRelease(t *testing.T, version string, env ...string) string {
	t.Helper()
	mod := newModule(t, t.TempDir())
	cmd := releaseCmd(t, mod, version)
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("releasing %s: %v\n%s", version, err, out)
	}
	return filepath.Join(mod, "dist")
}

func TestTamperingIsCaught(t *testing.T) {
	refMod, _ := reference(t)
	_, pubPath := signingKey(t)
	pem, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	index, platforms := platformDigests(t, filepath.Join(refMod, "dist"))
	idxHex := strings.TrimPrefix(index, "sha256:")

	// Evidence from elsewhere: the same sources signed with another key, and another
	// version (another index digest) signed with the right key.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	k, _ := sign.GenerateKey()
	kb, _ := sign.MarshalPrivateKey(k, []byte(cosignPassword))
	if err := os.WriteFile(otherKey, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	otherSigned := otherRelease(t, fixtureVersion, "COSIGN_KEY="+otherKey)
	otherVersion := otherRelease(t, "v0.0.2")
	otherIndex, _ := platformDigests(t, otherVersion)

	// verify: what `cairn-release verify` does after its clean-room rebuild, verify.Compare
	// of the rebuild with dist/, here with the undisturbed reference release as the rebuild
	// (test/release runs the whole clean room on a changed layer; a clean room compiles
	// the standard library twice, minutes on two cores), then verify.Evidence of
	// dist/cosign and dist/attestations with the key resolved as the CLI resolves it.
	// compared says whether the bit-for-bit comparison alone passed.
	key, from, err := verify.PublicKey(func(k string) string {
		if k == "COSIGN_PUBLIC_KEY" {
			return pubPath
		}
		return ""
	}, refMod)
	if err != nil || !key.Equal(pub) {
		t.Fatalf("verify.PublicKey(COSIGN_PUBLIC_KEY=%s) = %v, %q, %v, want the release's key", pubPath, key, from, err)
	}
	verify := func(t *testing.T, dist string) (pass, compared bool, text string) {
		rep, err := verify.Compare(dist, filepath.Join(refMod, "dist"))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		compared = rep.Pass
		rec, err := record.Load(filepath.Join(dist, record.File))
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		verify.Merge(rep, verify.Evidence(context.Background(), dist, rec, verify.Key{K: key, From: from}))
		return rep.Pass, compared, rep.Text()
	}
	auditDist := func(t *testing.T, dist string) *audit.Report {
		r, err := audit.Audit(context.Background(), "oci:"+filepath.Join(dist, "cosign", "hello"), audit.Options{Key: pub})
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		return r
	}
	failed := func(r *audit.Report) string {
		var s []string
		for _, c := range r.Failed() {
			s = append(s, c.Name+": "+c.Detail)
		}
		return strings.Join(s, "; ")
	}

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dist string)
		// compare: verify's bit-for-bit comparison (bin, oci, archives, release.json) catches
		// it; else only verify's evidence check (dist/cosign, dist/attestations) can.
		compare bool
		reason  string // what a failed audit check, and a FAIL line of verify, must say
	}{
		{"untouched", nil, false, ""},
		{"changed byte in a layer blob", func(t *testing.T, dist string) {
			// The amd64 image's layer, in dist/oci and in the signed layout.
			var m struct{ Layers []struct{ Digest string } }
			b, _ := os.ReadFile(filepath.Join(dist, "oci", "blobs", "sha256", strings.TrimPrefix(platforms[0], "sha256:")))
			if err := json.Unmarshal(b, &m); err != nil || len(m.Layers) == 0 {
				t.Fatalf("reading the amd64 manifest: %v %s", err, b)
			}
			for _, layout := range []string{"oci", filepath.Join("cosign", "hello")} {
				p := filepath.Join(dist, layout, "blobs", "sha256", strings.TrimPrefix(m.Layers[0].Digest, "sha256:"))
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)/2] ^= 0x01
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, true, "altered after it was signed"},
		{"swapped index in the layout", func(t *testing.T, dist string) {
			// The index of another release (v0.0.2), blobs and all, named hello in both layouts.
			for _, layout := range []string{"oci", filepath.Join("cosign", "hello")} {
				dir := filepath.Join(dist, layout)
				copyBlobs(t, filepath.Join(otherVersion, "oci"), dir)
				idx := readIndex(t, dir)
				other := entry(t, readIndex(t, filepath.Join(otherVersion, "oci")), "hello")
				e := entry(t, idx, "hello")
				e["digest"], e["size"] = other["digest"], other["size"]
				writeIndex(t, dir, idx)
			}
			if otherIndex == index {
				t.Fatalf("the other release has the same index %s", index)
			}
		}, true, "unsigned image"},
		{"replaced signature", func(t *testing.T, dist string) {
			// The index's signature made with another key over the same index.
			dir := filepath.Join(dist, "cosign", "hello")
			src := filepath.Join(otherSigned, "cosign", "hello")
			copyBlobs(t, src, dir)
			idx := readIndex(t, dir)
			e, o := entry(t, idx, "sha256-"+idxHex+".sig"), entry(t, readIndex(t, src), "sha256-"+idxHex+".sig")
			if e["digest"] == o["digest"] {
				t.Fatalf("the signature made with another key is the same manifest %v", o["digest"])
			}
			e["digest"], e["size"] = o["digest"], o["size"]
			writeIndex(t, dir, idx)
		}, false, "was made by the given key"},
		{"SBOM attestation for another digest", func(t *testing.T, dist string) {
			// The attestations (SBOM and provenance) of v0.0.2, validly signed with the right
			// key, put in place of the index's own.
			dir := filepath.Join(dist, "cosign", "hello")
			src := filepath.Join(otherVersion, "cosign", "hello")
			copyBlobs(t, src, dir)
			idx := readIndex(t, dir)
			e := entry(t, idx, "sha256-"+idxHex+".att")
			o := entry(t, readIndex(t, src), "sha256-"+strings.TrimPrefix(otherIndex, "sha256:")+".att")
			e["digest"], e["size"] = o["digest"], o["size"]
			writeIndex(t, dir, idx)
		}, false, "Document attestation is for another digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist := filepath.Join(t.TempDir(), "dist")
			if err := os.CopyFS(dist, os.DirFS(filepath.Join(refMod, "dist"))); err != nil {
				t.Fatal(err)
			}
			if tc.tamper == nil {
				if ok, _, out := verify(t, dist); !ok {
					t.Fatalf("verify of an untouched release failed:\n%s", out)
				}
				if r := auditDist(t, dist); !r.Pass {
					t.Fatalf("audit of an untouched release failed: %s", failed(r))
				}
				return
			}
			tc.tamper(t, dist)
			caught := true
			r := auditDist(t, dist)
			if r.Pass {
				caught = false
				t.Errorf("audit of a release with a %s passed, want FAIL", tc.name)
			} else if f := failed(r); !strings.Contains(f, tc.reason) {
				caught = false
				t.Errorf("audit of a release with a %s failed for other reasons than %q: %s", tc.name, tc.reason, f)
			} else {
				t.Logf("audit: %s", f)
			}
			ok, compared, out := verify(t, dist)
			var fails []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "FAIL") {
					fails = append(fails, l)
				}
			}
			switch {
			case ok:
				caught = false
				t.Errorf("verify of a release with a %s passed, want FAIL:\n%s", tc.name, out)
			case compared == tc.compare:
				caught = false
				t.Errorf("verify of a release with a %s: the bit-for-bit comparison passed = %v, want %v:\n%s", tc.name, compared, !tc.compare, out)
			case !strings.Contains(strings.Join(fails, "\n"), tc.reason):
				caught = false
				t.Errorf("verify of a release with a %s failed, but no FAIL line says %q:\n%s", tc.name, tc.reason, strings.Join(fails, "\n"))
			default:
				t.Logf("verify: %s", strings.Join(fails, "\n"))
			}
			n := 0
			if caught {
				n = 1
			}
			fault(1, n)
		})
	}
}
