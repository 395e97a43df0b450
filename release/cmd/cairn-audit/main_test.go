package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/attest"
	"github.com/cairn-iot/cairn/release/attest/attesttest"
	"github.com/cairn-iot/cairn/release/sign"
)

func TestRun(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	otherPub, _ := sign.MarshalPublicKey(&other.PublicKey)
	keyFile, otherFile := write("cosign.pub", pub), write("other.pub", otherPub)
	idx := attesttest.Index(t, "things")
	a, err := attest.Attach(key, attesttest.Build(), "things", "cairn/things", idx)
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "things")
	if err := sign.WriteLayout(layout, "things", idx, a.Evidence); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		out  string
	}{
		{"pass", []string{"--key", keyFile, layout}, nil, 0, "PASS index signature"},
		{"pass with COSIGN_PUBLIC_KEY and json", []string{"--json", "oci:" + layout}, map[string]string{"COSIGN_PUBLIC_KEY": keyFile}, 0, `"pass": true`},
		{"wrong key", []string{"--key", otherFile, layout}, nil, 1, "FAIL index signature: signature does not verify"},
		{"no key", []string{layout}, nil, 2, "usage"},
		{"no ref", []string{"--key", keyFile}, nil, 2, "usage"},
		{"bad key file", []string{"--key", filepath.Join(dir, "missing.pub"), layout}, nil, 2, "reading the public key"},
		{"bad ref", []string{"--key", keyFile, "Not A Ref"}, nil, 2, "expected an image reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr, func(k string) string { return tc.env[k] })
			all := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(all, tc.out) {
				t.Errorf("cairn-audit %v = exit %d, output:\n%s\nwant exit %d and output containing %q", tc.args, code, all, tc.code, tc.out)
			}
		})
	}
}
