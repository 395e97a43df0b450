package packages

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/test/testenv"
)

func TestPackageVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v0.1.0", "0.1.0"},
		{"v0.1.0-3-gabc1234def56-dirty", "0.1.0-3-gabc1234def56-dirty"},
		{"1.2.3", "1.2.3"},
		{"abc1234def56", "0.0.0-abc1234def56"},
		{"abc1234def56-dirty", "0.0.0-abc1234def56-dirty"},
		{"57faf78dc57e-dirty", "0.0.0-57faf78dc57e-dirty"},
		{"57faf78dc57e", "0.0.0-57faf78dc57e"},
		{"20240101", "20240101"},
		{"main", "0.0.0-main"},
	}
	for _, tt := range tests {
		if got := PackageVersion(tt.in); got != tt.want {
			t.Errorf("PackageVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSignBlobIsWhatVerifyBlobChecks(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123  cairn_1.0.0_linux_amd64.tar.gz\n")
	b64, err := SignBlob(key, data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(b64), "\n ") {
		t.Errorf("SignBlob() = %q, want base64 without whitespace", b64)
	}
	sig, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		t.Fatalf("decoding signature: %v", err)
	}
	digest := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Error("ecdsa.VerifyASN1(pub, sha256(data), sig) = false, want true")
	}
	other := sha256.Sum256(append(data, 'x'))
	if ecdsa.VerifyASN1(&key.PublicKey, other[:], sig) {
		t.Error("signature verifies other data, want false")
	}
	pem, err := PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pem), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("PublicKeyPEM() = %q, want a PUBLIC KEY block", pem)
	}
}

func TestParseChecksums(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		want    []Artifact
		wantErr bool
	}{
		{"two", sum + "  a.deb\n" + sum + "  b.tar.gz\n", []Artifact{{"a.deb", sum}, {"b.tar.gz", sum}}, false},
		{"empty", "", nil, true},
		{"one space", sum + " a.deb\n", nil, true},
		{"short sum", "abcd  a.deb\n", nil, true},
		{"not hex", strings.Repeat("zz", 32) + "  a.deb\n", nil, true},
		{"path", sum + "  ../a.deb\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChecksums([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseChecksums(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseChecksums(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestChangelog(t *testing.T) {
	testenv.LookPath(t, "git", "git")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a",
		"GIT_COMMITTER_EMAIL=a@example.com", "GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2024-01-01T00:00:00Z"}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "first")
	first := git("rev-parse", "HEAD")[:12]

	check := func(version, want string) {
		t.Helper()
		got, err := Changelog(context.Background(), dir, version, env)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Errorf("Changelog(%s) mismatch (-want +got):\n%s", version, diff)
		}
	}
	// One commit, no tag: the whole history.
	check("0.1.0", "# Changelog\n\n## 0.1.0\n\n* "+first+" first\n")
	// HEAD tagged, no parent: still the whole history.
	git("tag", "v0.1.0")
	check("0.1.0", "# Changelog\n\n## 0.1.0\n\n* "+first+" first\n")
	git("commit", "-q", "--allow-empty", "-m", "second")
	second := git("rev-parse", "HEAD")[:12]
	// Untagged HEAD after a tag: what came since.
	check("0.2.0-snapshot", "# Changelog\n\n## 0.2.0-snapshot\n\n* "+second+" second\n")
	// Tagged HEAD: what the tag adds over the previous one.
	git("tag", "v0.2.0")
	check("0.2.0", "# Changelog\n\n## 0.2.0\n\n* "+second+" second\n")
}

func TestStepSkipsOtherServices(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	s := &record.Stage{Dir: dir, Log: &log, Services: []record.Service{{Name: "hello", Package: "./hello"}}}
	if err := Step(signstep.Keys{}, func(string) string { return "" })(context.Background(), s); err != nil {
		t.Fatalf("Step(other services) = %v, want nil", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Step(other services) wrote %v, want nothing", entries)
	}
	if !strings.Contains(log.String(), "packages: skipped") {
		t.Errorf("Step(other services) logged %q, want a line saying it skipped", log.String())
	}
}

func TestDebVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3", "1.2.3"},
		{"0.0.0-abc1234def56", "0.0.0~abc1234def56"},
		{"0.1.0-3-gabc1234def56-dirty", "0.1.0~3-gabc1234def56-dirty"},
		{"1.2", "1.2.0"},
		{"1.2.3+meta", "1.2.3+meta"},
		{"1.2.3-rc.1+meta", "1.2.3~rc.1+meta"},
		{"20240101", "20240101.0.0"},
		// Not semantic versions: kept as they are.
		{"01.2.3", "01.2.3"},
		{"0.0.0-012345678901", "0.0.0-012345678901"},
		{"1.2.3-a..b", "1.2.3-a..b"},
		{"0.0.0-main_x", "0.0.0-main_x"},
	}
	for _, tt := range tests {
		if got := DebVersion(tt.in); got != tt.want {
			t.Errorf("DebVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// fixture writes a module directory and a dist/bin with tiny binaries for Write.
func fixture(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"LICENSE": "license\n", "README.md": "# readme\n",
		"packaging/cairn.default": "X=1\n", "packaging/cairn.service": "[Unit]\n",
		"packaging/postinst.sh": "#!/bin/sh\n", "packaging/prerm.sh": "#!/bin/sh\n", "packaging/postrm.sh": "#!/bin/sh\n",
	}
	for _, p := range Platforms {
		for _, b := range []string{"cairn", "users"} {
			files["bin/"+p.BinDir+"/"+b] = b + " for " + p.BinDir
		}
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.LookPath(t, "git", "git")
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Config{ModuleDir: dir, BinDir: filepath.Join(dir, "bin"), Binaries: []string{"cairn", "users"},
		Version: "v1.0.0", Epoch: time.Unix(1704067200, 0), Out: filepath.Join(t.TempDir(), "packages"),
		Signer: key, GitEnv: os.Environ()}
}

func TestWriteIsDeterministic(t *testing.T) {
	c := fixture(t)
	a, err := Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	c.Out += "2"
	b, err := Write(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two Writes differ (-first +second):\n%s", diff)
	}
	var names []string
	for _, x := range a {
		names = append(names, x.Name)
	}
	want := []string{"cairn_1.0.0_amd64.deb", "cairn_1.0.0_armhf.deb", "cairn_1.0.0_linux_amd64.tar.gz", "cairn_1.0.0_linux_armv7.tar.gz"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("artifacts mismatch (-want +got):\n%s", diff)
	}
}

// A failed Write leaves no output directory and no temporary one behind; an existing output
// is refused and kept.
func TestWriteLeavesNothingHalfWritten(t *testing.T) {
	c := fixture(t)
	if err := os.Remove(filepath.Join(c.BinDir, "linux_arm_v7", "users")); err != nil {
		t.Fatal(err)
	}
	_, err := Write(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "users") {
		t.Fatalf("Write(missing binary) = %v, want an error naming it", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(c.Out)); len(entries) != 0 {
		t.Errorf("Write(missing binary) left %v, want nothing", entries)
	}
	if err := os.Mkdir(c.Out, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), c); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Write(existing output) = %v, want an \"already exists\" error", err)
	}
}
