package verify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/release/verify"
)

// fixture writes a signed dist/ of one image "hello" (dist/oci, dist/cosign/hello,
// dist/attestations/hello) with a development key in moduleDir, and returns its record.
func fixture(t *testing.T) (dist, moduleDir string, rec *record.Release) {
	t.Helper()
	idx := attesttest.Index(t, "hello")
	d, _ := idx.Digest()
	dist = filepath.Join(t.TempDir(), "dist")
	moduleDir = t.TempDir()
	writeOCI(t, filepath.Join(dist, "oci"), idx)
	rec = &record.Release{
		Source: record.DefaultSource, Toolchain: "go1.26.8", Version: "v1.0.0",
		Compressor: record.Compressor{Module: "github.com/klauspost/compress", Version: "v1.20.3", Level: 6},
		Images:     []record.Image{{Name: "hello", Index: d.String(), Platforms: []record.Platform{{Platform: "linux/amd64"}, {Platform: "linux/arm/v7"}}}},
	}
	s := &record.Stage{
		Dir: dist, Record: rec, Indexes: map[string]v1.ImageIndex{"hello": idx},
		ModuleDir: moduleDir, Epoch: attesttest.Epoch, Version: "v1.0.0", Commit: attesttest.Build().Commit,
		Services: []record.Service{{Name: "hello"}}, Log: &bytes.Buffer{},
	}
	if err := signstep.Step(signstep.Keys{})(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return dist, moduleDir, rec
}

// writeOCI writes idx, named hello, as the layout dir (replacing it).
func writeOCI(t *testing.T, dir string, idx v1.ImageIndex) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{sign.RefNameAnnotation: "hello"})); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvidence(t *testing.T) {
	refDist, moduleDir, refRec := fixture(t)
	pub, from, err := verify.PublicKey(func(string) string { return "" }, moduleDir)
	if err != nil {
		t.Fatalf("PublicKey(dev key) = %v", err)
	}
	if !strings.Contains(from, "development key") {
		t.Errorf("PublicKey(dev key) from = %q, want it to say development key", from)
	}
	devKey := verify.Key{K: pub, From: from}
	other, _ := sign.GenerateKey()

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dist string, rec *record.Release)
		key    *verify.Key
		// fail maps the name of every check that must fail to a part of its detail; no
		// other check may fail.
		fail    map[string]string
		skipped bool
	}{
		{name: "untouched"},
		{name: "unsigned (mode images)", tamper: func(t *testing.T, dist string, _ *record.Release) {
			os.RemoveAll(filepath.Join(dist, "cosign"))
			os.RemoveAll(filepath.Join(dist, "attestations"))
		}, key: &verify.Key{Err: os.ErrNotExist}, skipped: true},
		{name: "signed layouts removed", tamper: func(t *testing.T, dist string, _ *record.Release) {
			os.RemoveAll(filepath.Join(dist, "cosign"))
		}, fail: map[string]string{"cosign": "dist/cosign does not"}},
		{name: "no public key", key: &verify.Key{Err: os.ErrNotExist},
			fail: map[string]string{"cosign key": "cannot be audited"}},
		{name: "another key", key: &verify.Key{K: &other.PublicKey, From: "other"},
			fail: map[string]string{
				"cosign/hello index signature": "was made by the given key",
				"cosign/hello index sbom":      "do not verify",
			}},
		{name: "edited SBOM copy", tamper: func(t *testing.T, dist string, _ *record.Release) {
			edit(t, filepath.Join(dist, "attestations", "hello", "linux_amd64.sbom.spdx.json"), func(b []byte) []byte {
				return bytes.Replace(b, []byte("hello"), []byte("HELLO"), 1)
			})
		}, fail: map[string]string{"attestations/hello/linux_amd64.sbom.spdx.json": "differs from the attestation payload"}},
		{name: "removed provenance copy", tamper: func(t *testing.T, dist string, _ *record.Release) {
			os.Remove(filepath.Join(dist, "attestations", "hello", "provenance.slsa.json"))
		}, fail: map[string]string{"attestations/hello/provenance.slsa.json": "missing"}},
		{name: "every copy removed, directory kept", tamper: func(t *testing.T, dist string, _ *record.Release) {
			dir := filepath.Join(dist, "attestations", "hello")
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
		}, fail: everyCopy("missing")},
		{name: "extra attestation file", tamper: func(t *testing.T, dist string, _ *record.Release) {
			os.WriteFile(filepath.Join(dist, "attestations", "hello", "linux_s390x.sbom.spdx.json"), []byte("{}\n"), 0o644)
		}, fail: map[string]string{"attestations/hello/linux_s390x.sbom.spdx.json": "not evidence of this release"}},
		{name: "release.json names another index", tamper: func(t *testing.T, _ string, rec *record.Release) {
			rec.Images[0].Index = "sha256:" + strings.Repeat("0", 64)
		}, fail: map[string]string{"cosign/hello index digest": "release.json sha256:0000"}},
		{name: "dist/oci holds another index", tamper: func(t *testing.T, dist string, _ *record.Release) {
			writeOCI(t, filepath.Join(dist, "oci"), attesttest.IndexOf(t, attesttest.Image(t, "other", attesttest.Platforms[0])))
		}, fail: map[string]string{"cosign/hello index digest": "dist/oci sha256:"}},
		{name: "image without a signed layout", tamper: func(t *testing.T, _ string, rec *record.Release) {
			rec.Images = append(rec.Images, record.Image{Name: "things", Index: rec.Images[0].Index})
		}, fail: map[string]string{"cosign/things": "found none"}},
		{name: "legacy signature gone, bundles intact", tamper: func(t *testing.T, dist string, rec *record.Release) {
			// The bundles still verify; the legacy tags miss their .sig.
			layout := filepath.Join(dist, "cosign", "hello")
			idx, err := os.ReadFile(filepath.Join(layout, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			d := strings.TrimPrefix(rec.Images[0].Index, "sha256:")
			edited := strings.Replace(string(idx), "sha256-"+d+".sig", "sha256-"+d+".gone", 1)
			if edited == string(idx) {
				t.Fatal("index.json names no .sig tag of the index")
			}
			if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
		}, fail: map[string]string{"cosign/hello index signature": "unsigned image"}},
		{name: "a bundle truncated", tamper: func(t *testing.T, dist string, rec *record.Release) {
			f := filepath.Join(dist, "bundles", "hello", "signature.sigstore.json")
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, fail: map[string]string{
			"bundles/hello index bundles":        "signature.sigstore.json is not a Sigstore bundle",
			"bundles/hello linux/amd64 bundles":  "signature.sigstore.json is not a Sigstore bundle",
			"bundles/hello linux/arm/v7 bundles": "signature.sigstore.json is not a Sigstore bundle",
		}},
		{name: "signed layout of no image", tamper: func(t *testing.T, dist string, _ *record.Release) {
			os.CopyFS(filepath.Join(dist, "cosign", "stray"), os.DirFS(filepath.Join(dist, "cosign", "hello")))
		}, fail: map[string]string{"cosign/stray": "not an image of release.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist := filepath.Join(t.TempDir(), "dist")
			if err := os.CopyFS(dist, os.DirFS(refDist)); err != nil {
				t.Fatal(err)
			}
			rec := *refRec
			rec.Images = append([]record.Image(nil), refRec.Images...)
			if tc.tamper != nil {
				tc.tamper(t, dist, &rec)
			}
			key := devKey
			if tc.key != nil {
				key = *tc.key
			}
			checks := verify.Evidence(context.Background(), dist, &rec, key)
			if len(checks) == 0 {
				t.Fatal("Check() returned no checks")
			}
			got := map[string]string{}
			skipped := false
			for _, c := range checks {
				skipped = skipped || c.Skipped
				if !c.Pass {
					got[c.Name] = c.Detail
				}
			}
			if tc.tamper == nil && tc.key == nil {
				// Untouched: the audit, the digests and all six plain copies were checked.
				names := map[string]bool{}
				for _, c := range checks {
					names[c.Name] = c.Pass
				}
				for _, n := range []string{"cosign/hello index signature", "cosign/hello linux/arm/v7 provenance", "cosign/hello index digest",
					"bundles/hello index signature", "bundles/hello linux/arm/v7 provenance",
					"attestations/hello/sbom.spdx.json", "attestations/hello/provenance.slsa.json",
					"attestations/hello/linux_amd64.sbom.spdx.json", "attestations/hello/linux_amd64.provenance.slsa.json",
					"attestations/hello/linux_arm_v7.sbom.spdx.json", "attestations/hello/linux_arm_v7.provenance.slsa.json"} {
					if !names[n] {
						t.Errorf("untouched: no passing check %q in %v", n, names)
					}
				}
			}
			if skipped != tc.skipped {
				t.Errorf("Check() skipped = %v, want %v: %+v", skipped, tc.skipped, checks)
			}
			for name, want := range tc.fail {
				if d, ok := got[name]; !ok || !strings.Contains(d, want) {
					t.Errorf("check %q: detail = %q (failed %v), want a FAIL containing %q", name, d, ok, want)
				}
			}
			for name, d := range got {
				if _, ok := tc.fail[name]; !ok && !strings.HasPrefix(tc.name, "another key") {
					t.Errorf("check %q failed unexpectedly: %s", name, d)
				}
			}
			r := &record.Report{Pass: true}
			verify.Merge(r, checks)
			if wantPass := len(tc.fail) == 0; r.Pass != wantPass {
				t.Errorf("Merge: report pass = %v, want %v:\n%s", r.Pass, wantPass, r.Text())
			}
			if tc.skipped && !strings.Contains(r.Text(), "SKIP cosign: not signed: skipped") {
				t.Errorf("report text does not say the evidence check was skipped:\n%s", r.Text())
			}
		})
	}
}

// TestPublicKey: the same resolution as `go tool mage audit`.
func TestPublicKey(t *testing.T) {
	key, _ := sign.GenerateKey()
	dir := t.TempDir()
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	priv, _ := sign.MarshalPrivateKey(key, []byte("pw"))
	os.WriteFile(filepath.Join(dir, "cosign.pub"), pub, 0o644)
	os.WriteFile(filepath.Join(dir, "cosign.key"), priv, 0o600)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		from    string
		wantErr string
	}{
		{"public key first", map[string]string{"COSIGN_PUBLIC_KEY": filepath.Join(dir, "cosign.pub"), "COSIGN_KEY": "/nonexistent"}, "COSIGN_PUBLIC_KEY", ""},
		{"private key", map[string]string{"COSIGN_KEY": filepath.Join(dir, "cosign.key"), "COSIGN_PASSWORD": "pw"}, "COSIGN_KEY", ""},
		{"wrong password", map[string]string{"COSIGN_KEY": filepath.Join(dir, "cosign.key"), "COSIGN_PASSWORD": "x"}, "", "COSIGN_PASSWORD"},
		{"private key as public", map[string]string{"COSIGN_PUBLIC_KEY": filepath.Join(dir, "cosign.key")}, "", "PUBLIC KEY"},
		{"nothing", map[string]string{}, "", "set COSIGN_PUBLIC_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := verify.PublicKey(func(k string) string { return tc.env[k] }, t.TempDir())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PublicKey() = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(&key.PublicKey) || !strings.Contains(from, tc.from) {
				t.Errorf("PublicKey() = %v, %q, %v, want the key from %s", got, from, err, tc.from)
			}
		})
	}
}

// everyCopy is a fail map naming every plain copy of the fixture's attestations.
func everyCopy(reason string) map[string]string {
	m := map[string]string{}
	for _, plat := range []string{"", "linux_amd64.", "linux_arm_v7."} {
		for _, suffix := range []string{"sbom.spdx.json", "sbom.cdx.json", "provenance.slsa.json"} {
			m["attestations/hello/"+plat+suffix] = reason
		}
	}
	return m
}
