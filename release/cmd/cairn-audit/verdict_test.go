package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
)

func TestWriteVerdict(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := sign.MarshalPrivateKey(key, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "verifier.key")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	r := &audit.Report{Report: record.Report{Pass: true}, Ref: "x", Rebuilt: &vsa.Verdict{Name: "things", Commit: strings.Repeat("c", 40), Toolchain: "go1.26.8", Index: d, Rebuilt: d}}
	dir := t.TempDir()
	files, err := writeVerdict(r, keyFile, dir, []byte("pw"), time.Unix(1800000000, 0))
	if err != nil || len(files) != 2 {
		t.Fatalf("writeVerdict = %v, %v; want two files", files, err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "things.intoto.json"))
	bundle, _ := os.ReadFile(filepath.Join(dir, "things.sigstore.json"))
	if p, err := vsa.Read(&key.PublicKey, env, d); err != nil || p.Verifier.ID != verifierID {
		t.Errorf("the envelope reads back as %+v, %v; want cairn-audit's verdict", p, err)
	}
	if _, err := vsa.ReadBundle(&key.PublicKey, bundle, d); err != nil {
		t.Errorf("the bundle does not read back: %v", err)
	}
	// No verdict without a passing rebuild, and none with a wrong password.
	if _, err := writeVerdict(&audit.Report{Report: record.Report{Pass: true}, Ref: "x"}, keyFile, t.TempDir(), []byte("pw"), time.Now()); err == nil {
		t.Error("writeVerdict(no rebuild) = nil, want an error")
	}
	if _, err := writeVerdict(r, keyFile, t.TempDir(), []byte("wrong"), time.Now()); err == nil {
		t.Error("writeVerdict(wrong password) = nil, want an error")
	}
}
