package signstep_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/signstep"
)

func stage(t *testing.T) *record.Stage {
	t.Helper()
	idx := attesttest.Index(t, "things")
	d, _ := idx.Digest()
	return &record.Stage{
		Dir: t.TempDir(),
		Record: &record.Release{
			Source: record.DefaultSource, Toolchain: "go1.26.8", Version: "v1.0.0",
			Compressor: record.Compressor{Module: "github.com/klauspost/compress", Version: "v1.20.3", Level: 6},
			Images:     []record.Image{{Name: "things", Index: d.String(), Platforms: []record.Platform{{Platform: "linux/amd64"}, {Platform: "linux/arm/v7"}}}},
		},
		Indexes:   map[string]v1.ImageIndex{"things": idx},
		ModuleDir: t.TempDir(),
		Epoch:     attesttest.Epoch,
		Version:   "v1.0.0",
		Commit:    attesttest.Build().Commit,
		Services:  []record.Service{{Name: "things"}},
	}
}

func TestStepWithDevKey(t *testing.T) {
	s := stage(t)
	var log bytes.Buffer
	s.Log = &log
	if err := signstep.Step(signstep.Keys{})(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(s.ModuleDir, ".cairn", "keys", "cosign.pub")
	if !strings.Contains(log.String(), "created a development key pair") || !strings.Contains(log.String(), pubPath) {
		t.Errorf("log = %q, want it to say a dev key pair was created and print %s", log.String(), pubPath)
	}
	for _, f := range []string{"sbom.spdx.json", "provenance.slsa.json", "linux_amd64.sbom.spdx.json", "linux_arm_v7.provenance.slsa.json"} {
		if _, err := os.Stat(filepath.Join(s.Dir, "attestations", "things", f)); err != nil {
			t.Errorf("attestations/things/%s: %v", f, err)
		}
	}
	data, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := audit.Audit(context.Background(), filepath.Join(s.Dir, "cosign", "things"), audit.Options{Key: pub})
	if err != nil || !r.Pass {
		var b strings.Builder
		if r != nil {
			r.Text(&b)
		}
		t.Fatalf("Audit(cosign/things) = %v\n%s", err, b.String())
	}
	out, err := attesttest.RunCosign(t, nil, "verify", "--local-image", filepath.Join(s.Dir, "cosign", "things"), "--key", pubPath, "--insecure-ignore-tlog")
	if err != nil {
		t.Errorf("cosign verify --local-image: %v\n%s", err, out)
	}

	// A second release with the same key writes the same bytes.
	s2 := stage(t)
	s2.ModuleDir, s2.Log = s.ModuleDir, &log
	if err := signstep.Step(signstep.Keys{})(context.Background(), s2); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cosign/things/index.json", "attestations/things/provenance.slsa.json", "attestations/things/sbom.spdx.json"} {
		a, _ := os.ReadFile(filepath.Join(s.Dir, f))
		b, _ := os.ReadFile(filepath.Join(s2.Dir, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two signing runs", f)
		}
	}
}

func TestStepWithCosignKey(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := sign.MarshalPrivateKey(key, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "release.key")
	os.WriteFile(f, pem, 0o600)
	s := stage(t)
	s.Log = &bytes.Buffer{}
	env := map[string]string{"COSIGN_KEY": f, "COSIGN_PASSWORD": "wrong"}
	err = signstep.Step(signstep.KeysFromEnv(func(k string) string { return env[k] }))(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "COSIGN_PASSWORD") {
		t.Fatalf("Step(wrong password) = %v, want an error naming COSIGN_PASSWORD", err)
	}
	env["COSIGN_PASSWORD"] = "pw"
	if err := signstep.Step(signstep.KeysFromEnv(func(k string) string { return env[k] }))(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.ModuleDir, ".cairn")); err == nil {
		t.Errorf("a dev key was created although COSIGN_KEY is set")
	}
	r, err := audit.Audit(context.Background(), "oci:"+filepath.Join(s.Dir, "cosign", "things"), audit.Options{Key: &key.PublicKey})
	if err != nil || !r.Pass {
		t.Fatalf("Audit(signed with COSIGN_KEY) = pass %v, %v", r != nil && r.Pass, err)
	}
}
