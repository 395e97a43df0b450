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

// tool is a stock CLI built once per test process from a modfile of lock/.
type tool struct {
	modfile, name string
	once          sync.Once
	path, err     string
}

var (
	cosign2 = &tool{modfile: "tools.mod", name: "cosign"}
	cosign3 = &tool{modfile: "cosign3.mod", name: "cosign"}
)

// get builds the tool with `go tool -modfile=lock/<modfile> -n <name>` (cached in GOCACHE).
// Like testenv.LookPath, it fails in CI and skips elsewhere when it cannot be had.
func (c *tool) get(t testing.TB) string {
	t.Helper()
	c.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			c.err = err.Error()
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		cmd := exec.Command("go", "tool", "-modfile="+filepath.Join(root, "lock", c.modfile), "-n", c.name)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			c.err = "building " + c.name + " from lock/" + c.modfile + ": " + err.Error() + "\n" + stderr.String()
			return
		}
		c.path = strings.TrimSpace(string(out))
	})
	if c.path == "" {
		if testenv.CI() {
			t.Fatal(c.err)
		}
		t.Skip(c.err)
	}
	return c.path
}

// Cosign returns the path of the stock cosign v2 CLI pinned in lock/tools.mod (v2.6.5, which
// reads and writes the legacy sha256-<hex>.sig and .att tags).
func Cosign(t testing.TB) string { return cosign2.get(t) }

// Cosign3 returns the path of the stock cosign v3 CLI pinned in lock/cosign3.mod (v3.1.3,
// which reads and writes Sigstore bundles as OCI 1.1 referrers).
func Cosign3(t testing.TB) string { return cosign3.get(t) }

// RunCosign runs cosign v2 with args offline (no TUF, no Rekor) and returns its combined
// output.
func RunCosign(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	return run(t, Cosign(t), env, args...)
}

// RunCosign3 runs cosign v3 with args offline and returns its combined output.
func RunCosign3(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	return run(t, Cosign3(t), env, args...)
}

func run(t testing.TB, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
