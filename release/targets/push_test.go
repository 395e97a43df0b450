package targets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/sign"
)

func TestAuditKey(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
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
		{"public key", map[string]string{"COSIGN_PUBLIC_KEY": filepath.Join(dir, "cosign.pub"), "COSIGN_KEY": "/nonexistent"}, "COSIGN_PUBLIC_KEY", ""},
		{"private key", map[string]string{"COSIGN_KEY": filepath.Join(dir, "cosign.key"), "COSIGN_PASSWORD": "pw"}, "COSIGN_KEY", ""},
		{"wrong password", map[string]string{"COSIGN_KEY": filepath.Join(dir, "cosign.key"), "COSIGN_PASSWORD": "x"}, "", "COSIGN_PASSWORD"},
		{"private key as public", map[string]string{"COSIGN_PUBLIC_KEY": filepath.Join(dir, "cosign.key")}, "", "PUBLIC KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, from, err := auditKey(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("auditKey() = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(&key.PublicKey) || !strings.Contains(from, tc.from) {
				t.Errorf("auditKey() = %v, %q, %v, want the key from %s", got, from, err, tc.from)
			}
		})
	}
}
