package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/sign"
)

var testKey = func() *ecdsa.PrivateKey {
	k, err := sign.GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
}()

func TestReadBinaries(t *testing.T) {
	img := attesttest.Image(t, "things", attesttest.Platforms[1])
	bins, err := attest.ReadBinaries(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 1 || bins[0].Path != "/usr/bin/things" || bins[0].Platform != "linux/arm/v7" {
		t.Fatalf("ReadBinaries() = %+v, want one binary /usr/bin/things for linux/arm/v7", bins)
	}
	mods := attest.Modules(bins[0].Info)
	if len(mods) == 0 || mods[0].Path != "github.com/google/go-containerregistry" || attest.SumHex(mods[0].Sum) == "" {
		t.Errorf("Modules() = %+v, want go-containerregistry with an h1 hash", mods)
	}
	settings := strings.Join(attest.Settings(bins[0].Info), " ")
	for _, want := range []string{"GOARCH=arm", "GOARM=7", "CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(settings, want) {
			t.Errorf("Settings() = %s, want it to contain %s", settings, want)
		}
	}
}

func TestSBOMAndProvenanceReadBack(t *testing.T) {
	img := attesttest.Image(t, "things", attesttest.Platforms[0])
	bins, err := attest.ReadBinaries(img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	want := attest.Describe(bins)
	doc := attest.SBOM("things", "v1.2.3", d, bins, attesttest.Epoch)
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" || !strings.HasSuffix(doc.DocumentNamespace, d.Hex) {
		t.Errorf("SBOM created, namespace = %s, %s, want the epoch and a namespace ending in the digest", doc.CreationInfo.Created, doc.DocumentNamespace)
	}
	got, err := doc.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(t, got, want) {
		t.Errorf("SBOM(bins).Binaries() = %s, want %s", js(t, got), js(t, want))
	}
	bom := attest.CycloneDXBOM("things", "v1.2.3", d, bins, attesttest.Epoch)
	got, err = bom.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(t, got, want) {
		t.Errorf("CycloneDXBOM(bins).Binaries() = %s, want %s", js(t, got), js(t, want))
	}
	if bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" || !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("CycloneDX timestamp, serial = %s, %s, want the epoch and a version 5 UUID", bom.Metadata.Timestamp, bom.SerialNumber)
	}
	other := attest.CycloneDXBOM("things", "v1.2.3", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, bins, attesttest.Epoch)
	if other.SerialNumber == bom.SerialNumber {
		t.Errorf("two subjects have the same serial number %s", bom.SerialNumber)
	}
	// Both SBOMs name the main module at the release version, for scanners.
	wantPurl := "pkg:golang/" + bins[0].Info.Main.Path + "@v1.2.3"
	if p := doc.Packages[0]; p.VersionInfo != "v1.2.3" || !strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, wantPurl) {
		t.Errorf("SPDX binary package version %q, purl %q, want v1.2.3 and %s...", p.VersionInfo, p.ExternalRefs[0].ReferenceLocator, wantPurl)
	}
	if c := bom.Components[0]; c.Version != "v1.2.3" || !strings.HasPrefix(c.Purl, wantPurl) {
		t.Errorf("CycloneDX binary component version %q, purl %q, want v1.2.3 and %s...", c.Version, c.Purl, wantPurl)
	}
	prov := attest.NewProvenance(attesttest.Build(), bins)
	got, err = prov.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(t, got, want) {
		t.Errorf("NewProvenance(bins).Binaries() = %s, want %s", js(t, got), js(t, want))
	}
	raw := js(t, prov)
	for _, bad := range []string{"startedOn", "finishedOn", "invocationId"} {
		if strings.Contains(raw, bad) {
			t.Errorf("provenance contains %s; it must reproduce", bad)
		}
	}
}

// writeRelease attaches evidence to the fixture index and writes the cosign layout.
func writeRelease(t *testing.T, dir string) (v1.ImageIndex, *attest.Attached) {
	t.Helper()
	idx := attesttest.Index(t, "things")
	a, err := attest.Attach(testKey, attesttest.Build(), "things", "cairn/things", idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.WriteLayout(dir, "things", idx, a.Evidence); err != nil {
		t.Fatal(err)
	}
	return idx, a
}

func TestAttachIsDeterministic(t *testing.T) {
	d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	_, a1 := writeRelease(t, d1)
	_, a2 := writeRelease(t, d2)
	if len(a1.Evidence) != 3 || len(a1.Files) != 9 {
		t.Fatalf("Attach() = %d evidence, %d files, want 3 (index + 2 platforms) and 9", len(a1.Evidence), len(a1.Files))
	}
	for i := range a1.Files {
		if a1.Files[i].Name != a2.Files[i].Name || !bytes.Equal(a1.Files[i].Data, a2.Files[i].Data) {
			t.Errorf("file %s differs between two runs", a1.Files[i].Name)
		}
	}
	for _, f := range []string{"index.json"} {
		b1, err1 := os.ReadFile(filepath.Join(d1, f))
		b2, err2 := os.ReadFile(filepath.Join(d2, f))
		if err1 != nil || err2 != nil || !bytes.Equal(b1, b2) {
			t.Errorf("%s differs between two runs (%v, %v)", f, err1, err2)
		}
	}
}

func TestCosignVerifiesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "things")
	writeRelease(t, dir)
	pub, err := sign.MarshalPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "--local-image", dir, "--key", pubPath, "--insecure-ignore-tlog"},
		{"verify-attestation", "--local-image", dir, "--key", pubPath, "--insecure-ignore-tlog", "--type", "slsaprovenance1"},
		{"verify-attestation", "--local-image", dir, "--key", pubPath, "--insecure-ignore-tlog", "--type", "spdxjson"},
		{"verify-attestation", "--local-image", dir, "--key", pubPath, "--insecure-ignore-tlog", "--type", "cyclonedx"},
	} {
		if out, err := attesttest.RunCosign(t, nil, args...); err != nil {
			t.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The wrong key must fail.
	other, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _ := sign.MarshalPublicKey(&other.PublicKey)
	if err := os.WriteFile(pubPath, otherPub, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := attesttest.RunCosign(t, nil, "verify", "--local-image", dir, "--key", pubPath, "--insecure-ignore-tlog"); err == nil {
		t.Errorf("cosign verify with the wrong key passed:\n%s", out)
	}
}

func TestCosignKeysInterop(t *testing.T) {
	dir := t.TempDir()
	out, err := attesttest.RunCosign(t, []string{"COSIGN_PASSWORD=s3cret"}, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	if err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.ParsePrivateKey(keyPEM, []byte("s3cret"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(cosign's key) = %v, want nil", err)
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Fatalf("ParsePublicKey(cosign's pub) = %v; matches private key: %v", err, err == nil && pub.Equal(&key.PublicKey))
	}
	// And the other way: a key we write signs a blob cosign verifies with our public key.
	ours, err := sign.MarshalPrivateKey(testKey, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	ourPub, _ := sign.MarshalPublicKey(&testKey.PublicKey)
	blob := filepath.Join(dir, "blob")
	os.WriteFile(filepath.Join(dir, "ours.key"), ours, 0o600)
	os.WriteFile(filepath.Join(dir, "ours.pub"), ourPub, 0o644)
	os.WriteFile(blob, []byte("hello"), 0o644)
	out, err = attesttest.RunCosign(t, []string{"COSIGN_PASSWORD=pw"}, "sign-blob", "--key", filepath.Join(dir, "ours.key"), "--tlog-upload=false", "--use-signing-config=false", "--output-signature", filepath.Join(dir, "blob.sig"), "--yes", blob)
	if err != nil {
		t.Fatalf("cosign sign-blob with our key: %v\n%s", err, out)
	}
	out, err = attesttest.RunCosign(t, nil, "verify-blob", "--key", filepath.Join(dir, "ours.pub"), "--signature", filepath.Join(dir, "blob.sig"), "--insecure-ignore-tlog", blob)
	if err != nil {
		t.Fatalf("cosign verify-blob with our public key: %v\n%s", err, out)
	}
}

func equalJSON(t *testing.T, a, b any) bool { return js(t, a) == js(t, b) }

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
