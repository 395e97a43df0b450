package audit_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
	"github.com/cairn-iot/cairn/test/testenv"
)

// TestRebuild releases HEAD (two fixture services built from
// release/attest/attesttest/hello, with the real pipeline and the pinned toolchain) in a
// worktree, run as mage runs it (goenv.Assembler), then audits with --rebuild: the audit
// checks out the provenance's commit in its own worktree, rebuilds, and must get the same
// index digest, and its cairn-release must report the release's environment
// (build.ReportEnvironment: compiled alike, the same build environment per target); a
// rebuilder that gets another digest must FAIL.
func TestRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with the pinned toolchain twice")
	}
	testenv.LookPath(t, "git", "git")
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		testenv.Unavailable(t, "the rebuild audits HEAD of a git checkout, and this is none: %v", err)
	}
	repo := strings.TrimSpace(string(root))
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(head))
	l, err := lock.Load(filepath.Join(repo, filepath.FromSlash(lock.File)))
	if err != nil {
		t.Fatal(err)
	}
	goroot, err := lock.Toolchain(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	services := filepath.Join(tmp, "services.json")
	os.WriteFile(services, []byte(`[{"name":"hello","package":"./release/attest/attesttest/hello","ports":["8080/tcp"]}]`), 0o644)
	wt := filepath.Join(tmp, "src")
	if out, err := exec.Command("git", "-C", repo, "worktree", "add", "--detach", wt, commit).CombinedOutput(); err != nil {
		t.Fatalf("git worktree add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("git", "-C", repo, "worktree", "remove", "--force", wt).Run() })
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "run", "./release/cmd/cairn-release", "-mode", "release", "-no-lock-check",
		"-goroot", goroot, "-services", services, "-version", "v0.0.0-rebuild", "-commit", commit, "-epoch", "1700000000")
	cmd.Dir = wt
	cmd.Env = goenv.Assembler(append(os.Environ(), "COSIGN_KEY="), "local")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("release at %s: %v\n%s", commit, err, log.String())
	}
	pubData, err := os.ReadFile(filepath.Join(wt, ".cairn", "keys", "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pubData)
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(wt, "dist", "cosign", "hello")

	var rebuildLog bytes.Buffer
	r, err := audit.Audit(ctx, ref, audit.Options{Key: pub, Rebuild: audit.GitRebuilder(repo, &rebuildLog, "-services", services)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pass {
		var b strings.Builder
		r.Text(&b)
		t.Fatalf("Audit(--rebuild) failed:\n%s\nlog:\n%s", b.String(), rebuildLog.String())
	}
	want, got := build.EnvironmentReport(log.String(), "cairn-release"), build.EnvironmentReport(rebuildLog.String(), "cairn-release")
	if len(want) != 1+len(build.Targets) {
		t.Errorf("the release reported %d environment lines, want %d:\n%s", len(want), 1+len(build.Targets), log.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the audit's rebuild reported another environment than the release (-release +rebuild):\n%s", diff)
	}
	if c := r.Checks[len(r.Checks)-1]; c.Name != "rebuild" || !c.Pass {
		t.Errorf("last check = %+v, want a passing rebuild", c)
	}
	// The passing rebuild is a verdict a verifier can sign.
	verdict, err := r.RebuildVerdict("https://verifier.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	verifier, _ := newKey(t)
	env, err := verdict.Sign(verifier)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := v1.NewHash(r.Digest)
	if p, err := vsa.Read(&verifier.PublicKey, env, d); err != nil || !strings.Contains(p.Policy.Name, commit) {
		t.Errorf("the rebuild verdict reads back as %+v, %v; want one about commit %s", p, err, commit)
	}

	r, err = audit.Audit(ctx, ref, audit.Options{Key: pub, Rebuild: func(_ context.Context, in audit.RebuildInput) (v1.Hash, error) {
		return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantFail(t, r, "rebuild", "not reproducible")
}
