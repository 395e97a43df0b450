// Package nix tests flake.nix end to end: in a clone of HEAD, mage and `nix build .#release`
// (through `go tool mage verify:nix`) must produce the same binaries, image indexes,
// archives and release.json, byte for byte. The mage side is `go tool mage images`: the
// release minus the lock check and the steps (signing, attestations, archives and packages), which
// write only beside what is compared (verify.Compared), so its compared files are those of
// `go tool mage release`, and the test stays within ~10 minutes on two cores. The nix build is the real one:
// the toolchain and module set fetched by the lock's hashes, every service built cold for
// both platforms, offline, inside the derivation. Both runs of cairn-release must also report
// the same environment (build.ReportEnvironment): mage's is goenv.Assembler, nix's is
// exported by nix/build.sh.
package nix

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// env is this process's environment without what would change the release's identity:
// both builds resolve it from the clone's git tree.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SOURCE_DATE_EPOCH", "CAIRN_VERSION", "CAIRN_COMMIT", "CAIRN_REQUIRE_CLEAN", "COSIGN_KEY", "COSIGN_PASSWORD":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// run runs name args in dir and returns its combined output, failing the test on error
// unless mayFail.
func run(t *testing.T, dir string, mayFail bool, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && !mayFail {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

// upToDate runs `go tool mage images` twice more in src: with nothing changed it must do
// nothing (dist/inputs.json, release.UpToDate), and after a dist/ file is tampered with it
// must rebuild and restore the file.
func upToDate(t *testing.T, src, dist string) {
	t.Helper()
	t.Log("go tool mage images, nothing changed")
	if out, _ := run(t, src, false, "go", "tool", "mage", "images"); !strings.Contains(out, "is up to date") || strings.Contains(out, "building ") {
		t.Errorf("mage images with nothing changed:\n%s\nwant 'is up to date' and no build", out)
	}
	victim := filepath.Join(dist, "bin", "linux_arm_v7", "users")
	orig, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, append(append([]byte{}, orig...), 0), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Log("go tool mage images, a dist/ file tampered with")
	if out, _ := run(t, src, false, "go", "tool", "mage", "images"); !strings.Contains(out, "dist/bin/linux_arm_v7/users was changed after the release") {
		t.Errorf("mage images after tampering:\n%s\nwant it to name the changed file and rebuild", out)
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, orig) {
		t.Errorf("after the rebuild dist/bin/linux_arm_v7/users is not the released binary again")
	}
}

// sameEnvironment checks that mage's cairn-release and nix's (nix/build.sh) reported the same
// environment (build.ReportEnvironment): the same Go and build settings compiled the
// assembler, and each target's binaries build in the same environment. The binaries are
// compared byte for byte anyway; the assembler that builds them is not, and its
// environment is written twice, in goenv.Assembler and in nix/build.sh. nixOut is the
// output of verify:nix; if the derivation was built before (no build log in it), the
// stored log is read with nix log.
func sameEnvironment(t *testing.T, nix, src string, rec *record.Release, mageOut, nixOut string) {
	t.Helper()
	want := build.EnvironmentReport(mageOut, "cairn-release")
	if len(want) != 1+len(build.Targets) {
		t.Fatalf("mage images reported %d environment lines, want %d:\n%s", len(want), 1+len(build.Targets), mageOut)
	}
	got := build.EnvironmentReport(nixOut, "cairn-release")
	if len(got) == 0 {
		cmd := exec.Command(nix, "--extra-experimental-features", "nix-command flakes", "log", "--impure", src+"#release")
		cmd.Dir = src
		cmd.Env = append(env(), "CAIRN_VERSION="+rec.Version, "CAIRN_COMMIT="+rec.Commit, "SOURCE_DATE_EPOCH="+strconv.FormatInt(rec.Epoch, 10))
		log, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nix log %s#release: %v\n%s", src, err, log)
		}
		got = build.EnvironmentReport(string(log), "cairn-release")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the nix build's cairn-release reported another environment than mage's (-mage +nix):\n%s", diff)
	}
}

func TestNixBuildEqualsMageRelease(t *testing.T) {
	nix := testenv.LookPath(t, "nix", "nix-bin")
	git := testenv.LookPath(t, "git", "git")
	// The flake sees committed files only: build HEAD, in a clone, as a rebuilder would.
	src := filepath.Join(t.TempDir(), "src")
	fixture.CloneHEAD(t, git, src)

	t.Log("go tool mage images (in a clone of HEAD)")
	mageOut, _ := run(t, src, false, "go", "tool", "mage", "images")
	dist := filepath.Join(src, "dist")
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Images) == 0 {
		t.Fatalf("mage images recorded no images: %+v", rec)
	}
	upToDate(t, src, dist)

	t.Log("go tool mage verify:nix (nix build .#release, cold)")
	out, err := run(t, src, true, "go", "tool", "mage", "verify:nix")
	if err != nil {
		t.Fatalf("go tool mage verify:nix = %v, want PASS\n%s", err, out)
	}
	want := "PASS release " + rec.Version + " (" + rec.Commit + ")"
	if !strings.Contains(out, want) {
		t.Fatalf("verify:nix output lacks %q:\n%s", want, out)
	}
	for _, im := range rec.Images {
		if line := "PASS image " + im.Name + " index"; !strings.Contains(out, line) {
			t.Errorf("verify:nix output lacks %q", line)
		}
	}
	sameEnvironment(t, nix, src, rec, mageOut, out)

	// Without --impure and without any variable, the flake resolves the identity of the
	// commit as mage does (no tag here: the 12-digit abbreviated commit), so the pure build
	// is the very same derivation, already built.
	if rec.Version == rec.Commit[:12] {
		res := filepath.Join(t.TempDir(), "result")
		run(t, src, false, nix, "--extra-experimental-features", "nix-command flakes", "build",
			"--option", "substituters", "", "--out-link", res, src+"#release")
		got, err := os.ReadFile(filepath.Join(res, record.File))
		if err != nil {
			t.Fatal(err)
		}
		wantRec, err := os.ReadFile(filepath.Join(dist, record.File))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantRec) {
			t.Errorf("pure nix build .#release wrote release.json\n%s\nwant mage's\n%s", got, wantRec)
		}
	} else {
		t.Logf("HEAD is described as %s (a tag): the pure build would need CAIRN_VERSION; not checked", rec.Version)
	}

	// The comparison can fail: change one byte of a binary in dist/ and verify:nix (the
	// nix build is cached now) must name it.
	bin := filepath.Join(dist, filepath.FromSlash(rec.Images[0].Platforms[0].Binary.Path))
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, src, true, "go", "tool", "mage", "verify:nix")
	if err == nil {
		t.Fatalf("verify:nix after tampering with %s succeeded, want FAIL:\n%s", bin, out)
	}
	if want := "FAIL " + rec.Images[0].Platforms[0].Binary.Path + ": sha256 "; !strings.Contains(out, want) {
		t.Errorf("verify:nix after tampering lacks %q:\n%s", want, out)
	}
}
