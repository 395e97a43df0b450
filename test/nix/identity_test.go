package nix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// TestFlakeIdentity evaluates (without building) the release derivation's identity in a
// clone of HEAD: the commit, version and epoch flake.nix resolves must be mage's
// (source.Resolve), an override must match the tree, and a dirty tree is refused unless
// told its identity.
func TestFlakeIdentity(t *testing.T) {
	nix := testenv.LookPath(t, "nix", "nix-bin")
	git := testenv.LookPath(t, "git", "git")
	src := filepath.Join(t.TempDir(), "src")
	fixture.CloneHEAD(t, git, src)
	head, _ := run(t, src, false, git, "rev-parse", "HEAD")
	head = strings.TrimSpace(head)
	ct, _ := run(t, src, false, git, "log", "-1", "--format=%ct", "HEAD")
	ct = strings.TrimSpace(ct)

	eval := func(t *testing.T, attr string, extra ...string) (string, error) {
		t.Helper()
		args := []string{"--extra-experimental-features", "nix-command flakes", "eval", "--raw"}
		if len(extra) > 0 {
			args = append(args, "--impure")
		}
		cmd := exec.Command(nix, append(args, src+"#release."+attr)...)
		cmd.Dir = src
		cmd.Env = append(env(), extra...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", &evalError{err: err, out: stderr.String()}
		}
		return stdout.String(), nil
	}
	tests := []struct {
		name    string
		dirty   bool
		env     []string
		attr    string
		want    string // the value, or with wantErr a part of the error
		wantErr bool
	}{
		{"commit", false, nil, "commit", head, false},
		{"version without tag", false, nil, "version", head[:12], false},
		{"epoch is the commit time", false, nil, "epoch", ct, false},
		{"SOURCE_DATE_EPOCH", false, []string{"SOURCE_DATE_EPOCH=1700000000"}, "epoch", "1700000000", false},
		{"CAIRN_VERSION", false, []string{"CAIRN_VERSION=v9.9.9"}, "version", "v9.9.9", false},
		{"CAIRN_COMMIT of another commit", false, []string{"CAIRN_COMMIT=" + strings.Repeat("0", 40)}, "commit", "but the flake's tree is commit " + head, true},
		{"dirty tree", true, nil, "version", "the git tree has uncommitted changes", true},
		{"dirty tree, version not dirty", true, []string{"CAIRN_COMMIT=" + head, "CAIRN_VERSION=v1.0.0"}, "version", "must end in -dirty", true},
		{"dirty tree, identity given", true, []string{"CAIRN_COMMIT=" + head, "CAIRN_VERSION=" + head[:12] + "-dirty"}, "dirty", "true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gomod := filepath.Join(src, "go.mod")
			orig, err := os.ReadFile(gomod)
			if err != nil {
				t.Fatal(err)
			}
			if tt.dirty {
				if err := os.WriteFile(gomod, append(append([]byte{}, orig...), "// dirty\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(gomod, orig, 0o644)
			}
			got, err := eval(t, tt.attr, tt.env...)
			switch {
			case tt.wantErr && err == nil:
				t.Errorf("nix eval .#release.%s %v = %q, want an error containing %q", tt.attr, tt.env, got, tt.want)
			case tt.wantErr && !strings.Contains(err.Error(), tt.want):
				t.Errorf("nix eval .#release.%s %v = %v, want an error containing %q", tt.attr, tt.env, err, tt.want)
			case !tt.wantErr && err != nil:
				t.Errorf("nix eval .#release.%s %v = %v, want %q", tt.attr, tt.env, err, tt.want)
			case !tt.wantErr && got != tt.want:
				t.Errorf("nix eval .#release.%s %v = %q, want %q", tt.attr, tt.env, got, tt.want)
			}
		})
	}
}

type evalError struct {
	err error
	out string
}

func (e *evalError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.out) }
