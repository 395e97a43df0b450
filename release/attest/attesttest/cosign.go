package attesttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

var (
	cosignOnce sync.Once
	cosignPath string
	cosignErr  string
)

// Cosign returns the path of the stock cosign CLI pinned in lock/tools.mod, building it
// once with `go tool -modfile=lock/tools.mod -n cosign`. Like testenv.LookPath, it fails in
// CI and skips elsewhere when it cannot be had.
func Cosign(t testing.TB) string {
	t.Helper()
	cosignOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			cosignErr = err.Error()
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		cmd := exec.Command("go", "tool", "-modfile="+filepath.Join(root, "lock", "tools.mod"), "-n", "cosign")
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			cosignErr = "building cosign from lock/tools.mod: " + err.Error() + "\n" + stderr.String()
			return
		}
		cosignPath = strings.TrimSpace(string(out))
	})
	if cosignPath == "" {
		if testenv.CI() {
			t.Fatal(cosignErr)
		}
		t.Skip(cosignErr)
	}
	return cosignPath
}

// RunCosign runs cosign with args offline (no TUF, no Rekor) and returns its combined output.
func RunCosign(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(Cosign(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
