package targets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/sign"
)

// TestAuditKey checks the wiring only: the resolution is verify.PublicKey's, tested there.
func TestAuditKey(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	path := filepath.Join(t.TempDir(), "cosign.pub")
	os.WriteFile(path, pub, 0o644)
	got, from, err := auditKey(func(k string) string { return map[string]string{"COSIGN_PUBLIC_KEY": path}[k] })
	if err != nil || !got.Equal(&key.PublicKey) || !strings.Contains(from, "COSIGN_PUBLIC_KEY") {
		t.Errorf("auditKey() = %v, %q, %v, want the key from COSIGN_PUBLIC_KEY", got, from, err)
	}
}
