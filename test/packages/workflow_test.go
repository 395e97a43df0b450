package packages_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// actionlint is the workflow linter, pinned by version and run from the module proxy (its
// sum is checked against the checksum database like any module's).
const actionlint = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// lint runs actionlint on the workflow files, offline but for the module proxy. shellcheck
// and pyflakes are turned off so the result does not depend on what the machine has.
func lint(t *testing.T, dir string, files ...string) (string, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	args := append([]string{"run", actionlint, "-no-color", "-shellcheck=", "-pyflakes="}, files...)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestReleaseWorkflowLints(t *testing.T) {
	root := repoRoot(t)
	out, err := lint(t, root, filepath.Join(".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatalf("actionlint .github/workflows/release.yml: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"tags: [\"v*\"]",
		"run: go tool mage release\n",
		"run: go tool mage verify\n",
		"run: go tool mage push \"$REGISTRY/$IMAGE_PREFIX\"\n",
		"run: go run ./release/goreleaser/cmd/cairn-goreleaser publish\n",
		"secrets.COSIGN_KEY",
		"secrets.COSIGN_PASSWORD",
	} {
		if !strings.Contains(string(b), s) {
			t.Errorf("release.yml does not contain %q", s)
		}
	}
}

// The linter must catch a broken workflow, or the test above proves nothing.
func TestActionlintRejectsABrokenWorkflow(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows", "broken.yml")
	if err := os.MkdirAll(filepath.Dir(wf), 0o755); err != nil {
		t.Fatal(err)
	}
	broken := `name: broken
on:
  push:
    tags: ["v*"]
jobs:
  release:
    runs-on: ubuntu-24.04
    env:
      KEY: ${{ runner.temp }}/cosign.key
    steps:
      - uses: actions/checkout@v4
      - run: echo ${{ secrets.X }
`
	if err := os.WriteFile(wf, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := lint(t, dir, filepath.Join(".github", "workflows", "broken.yml"))
	if err == nil {
		t.Fatalf("actionlint accepted a broken workflow, want errors:\n%s", out)
	}
	if !strings.Contains(out, "runner") {
		t.Errorf("actionlint output does not name the unavailable runner context:\n%s", out)
	}
}
