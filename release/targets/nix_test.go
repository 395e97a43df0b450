package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/release/record"
)

// writeDist writes a minimal dist/: a record and one binary.
func writeDist(t *testing.T, dir string, binary string) {
	t.Helper()
	rec := record.Release{Schema: 1, Version: "abc123def456", Commit: strings.Repeat("ab", 20), Epoch: 1700000000, Images: []record.Image{}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range map[string]string{"release.json": string(b) + "\n", "bin/linux_amd64/cairn": binary} {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyNix(t *testing.T) {
	tests := []struct {
		name     string
		rebuilt  string // the rebuild's binary
		buildErr error
		wantErr  string // "" for PASS
		wantOut  []string
	}{
		{"same bytes", "binary", nil, "", []string{"PASS bin/linux_amd64/cairn", "PASS release abc123def456"}},
		{"different binary", "other", nil, "verify:nix FAILED", []string{"FAIL bin/linux_amd64/cairn: sha256 ", "FAIL release abc123def456"}},
		{"nix fails", "", errors.New("nix build failed"), "verify:nix: nix build failed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dist := filepath.Join(dir, "dist")
			writeDist(t, dist, "binary")
			var gotID NixIdentity
			build := func(ctx context.Context, moduleDir, gcroot string, id NixIdentity, log io.Writer) (string, error) {
				gotID = id
				if tt.buildErr != nil {
					return "", tt.buildErr
				}
				out := filepath.Join(dir, "store-path")
				writeDist(t, out, tt.rebuilt)
				return out, nil
			}
			var out bytes.Buffer
			err := verifyNix(context.Background(), NixOptions{ModuleDir: dir, Build: build, Out: &out, Log: io.Discard})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("verifyNix() = %v, want error containing %q", err, tt.wantErr)
			}
			want := NixIdentity{Version: "abc123def456", Commit: strings.Repeat("ab", 20), Epoch: 1700000000}
			if diff := cmp.Diff(want, gotID); diff != "" {
				t.Errorf("identity passed to nix (-want +got):\n%s", diff)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report = %q, want it to contain %q", out.String(), w)
				}
			}
			_, statErr := os.Stat(dist + ".verify-nix.json")
			if wantJSON := tt.buildErr == nil; wantJSON != (statErr == nil) {
				t.Errorf("JSON report written = %v, want %v", statErr == nil, wantJSON)
			}
		})
	}
}

func TestVerifyNixWithoutDist(t *testing.T) {
	called := false
	build := func(context.Context, string, string, NixIdentity, io.Writer) (string, error) {
		called = true
		return "", nil
	}
	err := verifyNix(context.Background(), NixOptions{ModuleDir: t.TempDir(), Build: build, Out: io.Discard, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "go tool mage release") {
		t.Errorf("verifyNix(no dist) = %v, want an error telling to run `go tool mage release`", err)
	}
	if called {
		t.Errorf("verifyNix(no dist) ran nix, want it to stop before")
	}
}
