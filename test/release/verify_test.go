package release_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/source"
	"github.com/cairn-iot/cairn/release/vsa"
	"github.com/cairn-iot/cairn/test/testenv"
)

// tamperLayer rewrites the layer blob at path with one byte of file changed, keeping the
// blob's name: what a corrupted or substituted layer looks like.
func tamperLayer(t *testing.T, path, file string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	changed := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == file {
			data[len(data)/2] ^= 0x01
			changed = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	if !changed {
		t.Fatalf("layer has no %s", file)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type report struct {
	Pass   bool
	Checks []record.Check
}

func TestVerifyNamesTheChangedFileInALayer(t *testing.T) {
	mod, dist := fixtureRelease(t)
	cr := cli(t)
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "dist")
	copyDir(t, dist, tampered)
	layer := rec.Images[0].Platforms[1].Layers[0] // arm/v7
	blob := "oci/blobs/sha256/" + strings.TrimPrefix(layer, "sha256:")
	tamperLayer(t, filepath.Join(tampered, filepath.FromSlash(blob)), "usr/local/bin/hello")

	jsonOut := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(cr, "verify", "-C", mod, "-dist", tampered, "-lock", "none", "-goroot", pinnedGOROOT(t), "-json", jsonOut)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("verify of a tampered dist: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	text := stdout.String()
	wantLine := "FAIL " + blob + ": image hello linux/arm/v7 layer 0"
	if !strings.Contains(text, wantLine) || !strings.Contains(text, "differing files: usr/local/bin/hello (content sha256") {
		t.Errorf("verify text report does not name the image, platform, layer and file; want a line starting %q naming usr/local/bin/hello:\n%s", wantLine, text)
	}
	var rep report
	readJSON(t, jsonOut, &rep)
	if rep.Pass {
		t.Errorf("JSON report pass = true, want false")
	}
	var failed []string
	for _, c := range rep.Checks {
		if !c.Pass {
			failed = append(failed, c.Name)
		}
	}
	// Everything else was rebuilt bit for bit in the clean room.
	if len(failed) != 1 || failed[0] != blob {
		t.Errorf("failed checks = %q, want only [%s]", failed, blob)
	}
}

// TestFullReleaseOfTheRealServices releases the real services (those whose main package
// exists) with the cairn-release CLI from a snapshot of the work tree, checks the layout
// with skopeo, then runs verify on it: a clean-room rebuild that must match bit for bit.
func TestFullReleaseOfTheRealServices(t *testing.T) {
	if testing.Short() {
		t.Skip("full release: skipped with -short")
	}
	skopeo := testenv.LookPath(t, "skopeo", "skopeo")
	cr := cli(t)
	root := repoRoot(t)
	info, err := source.Resolve(context.Background(), source.ExecGit, root, "")
	if err != nil {
		t.Fatal(err)
	}
	var services []record.Service
	for _, s := range record.Services {
		if m, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(s.Package), "*.go")); len(m) > 0 {
			services = append(services, s)
		} else {
			t.Logf("service %s: no Go files in %s yet, not released", s.Name, s.Package)
		}
	}
	if len(services) == 0 {
		t.Fatal("no service has a main package yet")
	}
	work := t.TempDir()
	// A snapshot, so that edits in the work tree during the test cannot make verify differ.
	snap := filepath.Join(work, "src")
	copyRepo(t, root, snap)
	svcFile := filepath.Join(work, "services.json")
	b, _ := json.Marshal(services)
	if err := os.WriteFile(svcFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(work, "dist")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cr, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("cairn-release %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	run("-C", snap, "-dist", dist, "-mode", "images", "-goroot", pinnedGOROOT(t), "-services", svcFile,
		"-version", info.Version, "-commit", info.Commit, "-epoch", strconv.FormatInt(info.Epoch.Unix(), 10),
		"-dirty="+strconv.FormatBool(info.Dirty))
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Images) != len(services) {
		t.Fatalf("release has %d images, want %d", len(rec.Images), len(services))
	}
	for _, im := range rec.Images {
		out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+filepath.Join(dist, "oci")+":"+im.Name).CombinedOutput()
		if err != nil || !strings.Contains(string(out), im.Platforms[1].Manifest) {
			t.Errorf("skopeo inspect oci:dist/oci:%s: %v\n%s", im.Name, err, out)
		}
	}
	args := []string{"verify", "-C", snap, "-dist", dist, "-goroot", pinnedGOROOT(t), "-json", filepath.Join(work, "verify.json")}
	// A verifier's key: a signed rebuild verdict per image, unless the tree is dirty (a dirty
	// release is not what its commit builds; CI's tree is clean).
	verifier, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if !info.Dirty {
		pem, err := sign.MarshalPrivateKey(verifier, nil)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(work, "verifier.key")
		if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-vsa-key", keyFile)
	} else {
		t.Log("the work tree is dirty: no rebuild verdicts to check")
	}
	text := run(args...)
	if !strings.Contains(text, "PASS release "+info.Version) {
		t.Errorf("verify did not pass:\n%s", text)
	}
	if info.Dirty {
		return
	}
	for _, im := range rec.Images {
		env, err := os.ReadFile(filepath.Join(work, "dist.vsa", im.Name+".intoto.json"))
		if err != nil {
			t.Fatalf("rebuild verdict of %s: %v", im.Name, err)
		}
		d, _ := v1.NewHash(im.Index)
		p, err := vsa.Read(&verifier.PublicKey, env, d)
		if err != nil {
			t.Fatalf("rebuild verdict of %s: %v", im.Name, err)
		}
		if want := "bit-identical rebuild of commit " + info.Commit + " with toolchain " + rec.Toolchain; p.Policy.Name != want {
			t.Errorf("verdict of %s: policy %q, want %q", im.Name, p.Policy.Name, want)
		}
	}
}

// copyRepo copies the work tree (without .git, dist and local keys) for a snapshot.
func copyRepo(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		top := strings.Split(rel, string(filepath.Separator))[0]
		if top == ".git" || top == ".cairn" || top == "dist" || strings.HasPrefix(top, "dist.") || strings.HasPrefix(top, "result") {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshotting the work tree: %v", err)
	}
}
