// Package goreleaser_test drives the snapshot step of release/goreleaser end to end with the
// stock goreleaser and cosign of lock/tools.mod, dpkg-deb and git: on a one-commit fixture
// repository that carries the real .goreleaser.yaml, packaging/, LICENSE and README.md and
// tiny main packages in place of the services (the config and the tools are what is tested,
// not the platform; the real services go through the same step in `go tool mage release`).
//
// It checks the archives' and packages' contents, the binaries' identity with a dist/bin built
// by release/build (the release build itself), the checksums signature with `cosign
// verify-blob`, and that two runs give the same checksums.txt.
package packages_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/lock"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/goreleaser"
	"github.com/cairn-iot/cairn/release/packages"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/signstep"
	"github.com/cairn-iot/cairn/test/testenv"
)

const (
	version = "v1.2.3"
	// pkgVersion is version as the archives and packages carry it.
	pkgVersion = "1.2.3"
	epochUnix  = 1704067200 // 2024-01-01T00:00:00Z, the fixture commit's date
)

var epoch = time.Unix(epochUnix, 0).UTC()

// repoRoot is the Cairn checkout this test runs in.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixture is the state shared by the subtests: one fixture repository, its dist/bin, two
// runs of packages.Write (out1, out2) and goreleaser's snapshot (gr).
type fixture struct {
	repo, bin      string
	out1, out2, gr string
	goroot         string
	key            *ecdsa.PrivateKey
	commit         string
}

var (
	once     sync.Once
	shared   *fixture
	setupErr error
)

func setup(t *testing.T) *fixture {
	t.Helper()
	testenv.LookPath(t, "git", "git")
	testenv.LookPath(t, "dpkg-deb", "dpkg")
	once.Do(func() { shared, setupErr = newFixture(repoRoot(t)) })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return shared
}

func newFixture(root string) (*fixture, error) {
	ctx := context.Background()
	l, err := lock.Load(filepath.Join(root, lock.File))
	if err != nil {
		return nil, err
	}
	goroot, err := lock.Toolchain(ctx, l)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "cairn-packages-test-")
	if err != nil {
		return nil, err
	}
	// The fixture lives for the whole test binary; TestMain removes it.
	cleanup = append(cleanup, tmp)
	f := &fixture{repo: filepath.Join(tmp, "repo"), bin: filepath.Join(tmp, "bin"), goroot: goroot,
		out1: filepath.Join(tmp, "run1", "packages"), out2: filepath.Join(tmp, "run2", "packages"),
		gr: filepath.Join(tmp, "goreleaser")}
	if err := writeRepo(root, f.repo); err != nil {
		return nil, err
	}
	if f.commit, err = gitCommit(f.repo); err != nil {
		return nil, err
	}
	// dist/bin as the release builds it.
	var pkgs []build.Package
	for _, s := range record.Services {
		pkgs = append(pkgs, build.Package{Name: s.Name, Path: s.Package})
	}
	if _, err := build.Build(ctx, build.Options{
		GOROOT: goroot, ModuleDir: f.repo, OutDir: f.bin, Version: version, Commit: f.commit,
		Packages: pkgs, Pass: goenv.Pick(os.LookupEnv),
	}); err != nil {
		return nil, err
	}
	if f.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	for _, out := range []string{f.out1, f.out2} {
		if _, err := packages.Write(ctx, f.packages(out)); err != nil {
			return nil, err
		}
	}
	if _, err := goreleaser.Snapshot(ctx, f.config(root, f.gr)); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fixture) packages(out string) packages.Config {
	var names []string
	for _, s := range record.Services {
		names = append(names, s.Name)
	}
	return packages.Config{ModuleDir: f.repo, BinDir: f.bin, Binaries: names, Version: version,
		Epoch: epoch, Out: out, Signer: f.key, GitEnv: os.Environ()}
}

func (f *fixture) config(root, out string) goreleaser.Config {
	return goreleaser.Config{
		ModuleDir: f.repo, GOROOT: f.goroot, Version: version, Commit: f.commit, Epoch: epoch,
		BinDir: f.bin, Out: out, Signer: f.key,
		// The fixture has no lock/: run the repository's pinned goreleaser.
		Tool: []string{filepath.Join(f.goroot, "bin", "go"), "tool",
			"-modfile=" + filepath.Join(root, lock.ToolsModFile), "goreleaser"},
	}
}

var cleanup []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range cleanup {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// writeRepo writes the fixture module: the real release configuration and packaging files,
// the real platform/version, and a tiny main package per service.
func writeRepo(root, dir string) error {
	copies := []string{".goreleaser.yaml", "LICENSE", "platform/version/version.go",
		"packaging/cairn.service", "packaging/cairn.default", "packaging/postinst.sh",
		"packaging/prerm.sh", "packaging/postrm.sh", "lock/tools.mod", "lock/tools.sum"}
	files := map[string]string{
		"go.mod": "module github.com/cairn-iot/cairn\n\ngo 1.26\n",
	}
	if b, err := os.ReadFile(filepath.Join(root, "README.md")); err == nil {
		files["README.md"] = string(b)
	} else {
		files["README.md"] = "# Cairn\n"
	}
	for _, c := range copies {
		b, err := os.ReadFile(filepath.Join(root, c))
		if err != nil {
			return fmt.Errorf("reading the repository's %s: %w", c, err)
		}
		files[c] = string(b)
	}
	for _, s := range record.Services {
		files[filepath.Join(s.Package, "main.go")] = fmt.Sprintf(`package main

import (
	"fmt"

	"github.com/cairn-iot/cairn/platform/version"
)

func main() { fmt.Println(%q, version.Version, version.Commit) }
`, s.Name)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var gitEnv = []string{"GIT_AUTHOR_NAME=Cairn Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Cairn Test", "GIT_COMMITTER_EMAIL=test@example.com",
	"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
	"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}

// gitCommit makes dir a one-commit repository and returns the commit.
func gitCommit(dir string) (string, error) {
	var commit string
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "Cairn fixture"},
		{"rev-parse", "HEAD"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), gitEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %v: %w\n%s", args, err, out)
		}
		commit = strings.TrimSpace(string(out))
	}
	return commit, nil
}

var wantFiles = []string{
	"CHANGELOG.md",
	"cairn_" + pkgVersion + "_amd64.deb",
	"cairn_" + pkgVersion + "_armhf.deb",
	"cairn_" + pkgVersion + "_linux_amd64.tar.gz",
	"cairn_" + pkgVersion + "_linux_armv7.tar.gz",
	"checksums.txt",
	"checksums.txt.sig",
	"cosign.pub",
}

func TestOutputFiles(t *testing.T) {
	f := setup(t)
	for _, out := range []string{f.out1, f.out2, f.gr} {
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if diff := cmp.Diff(wantFiles, got); diff != "" {
			t.Errorf("files of %s mismatch (-want +got):\n%s", out, diff)
		}
	}
	sums := read(t, filepath.Join(f.out1, "checksums.txt"))
	arts, err := packages.ParseChecksums(sums)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range arts {
		names = append(names, a.Name)
		if got := sha(read(t, filepath.Join(f.out1, a.Name))); got != a.SHA256 {
			t.Errorf("sha256(%s) = %s, want %s (checksums.txt)", a.Name, got, a.SHA256)
		}
	}
	want := []string{wantFiles[1], wantFiles[2], wantFiles[3], wantFiles[4]}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("checksums.txt names mismatch (-want +got):\n%s", diff)
	}
}

func TestTwoRunsGiveTheSameChecksums(t *testing.T) {
	f := setup(t)
	a, b := read(t, filepath.Join(f.out1, "checksums.txt")), read(t, filepath.Join(f.out2, "checksums.txt"))
	if !bytes.Equal(a, b) {
		t.Errorf("checksums.txt differs between two runs:\nrun 1:\n%s\nrun 2:\n%s", a, b)
	}
	for _, name := range []string{"CHANGELOG.md", "cosign.pub"} {
		if !bytes.Equal(read(t, filepath.Join(f.out1, name)), read(t, filepath.Join(f.out2, name))) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

// goreleaser, building the binaries itself from .goreleaser.yaml, writes byte for byte what
// the release writes: the config CI publishes with and package packages agree.
func TestGoreleaserMakesTheSameBytes(t *testing.T) {
	f := setup(t)
	for _, name := range wantFiles {
		if name == "checksums.txt.sig" {
			continue // ECDSA signatures are randomized
		}
		mine, theirs := read(t, filepath.Join(f.out1, name)), read(t, filepath.Join(f.gr, name))
		if !bytes.Equal(mine, theirs) {
			t.Errorf("%s: the release wrote sha256:%s (%d bytes), goreleaser sha256:%s (%d bytes); compare them with diffoscope", name, sha(mine), len(mine), sha(theirs), len(theirs))
		}
	}
}

// tarEntry is what the test checks of a tar header.
type tarEntry struct {
	Name         string
	Mode         int64
	Uid, Gid     int
	Uname, Gname string
	ModTime      int64
}

func TestArchives(t *testing.T) {
	f := setup(t)
	for _, tt := range []struct{ file, platform string }{
		{wantFiles[3], "linux_amd64"},
		{wantFiles[4], "linux_arm_v7"},
	} {
		t.Run(tt.platform, func(t *testing.T) {
			raw := read(t, filepath.Join(f.out1, tt.file))
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" {
				t.Errorf("gzip header of %s has ModTime %v, Name %q, Comment %q, want none", tt.file, zr.ModTime, zr.Name, zr.Comment)
			}
			var got []tarEntry
			contents := map[string][]byte{}
			tr := tar.NewReader(zr)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tarEntry{h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.Unix()})
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				contents[h.Name] = b
			}
			var want []tarEntry
			for _, n := range []string{"LICENSE", "README.md"} {
				want = append(want, tarEntry{n, 0o644, 0, 0, "root", "root", epochUnix})
			}
			for _, s := range record.Services {
				want = append(want, tarEntry{s.Name, 0o755, 0, 0, "root", "root", epochUnix})
			}
			// Files, then binaries in record.Services' order.
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries of %s mismatch (-want +got):\n%s", tt.file, diff)
			}
			for _, s := range record.Services {
				wantSum := sha(read(t, filepath.Join(f.bin, tt.platform, s.Name)))
				if gotSum := sha(contents[s.Name]); gotSum != wantSum {
					t.Errorf("sha256 of %s in %s = %s, want %s (dist/bin)", s.Name, tt.file, gotSum, wantSum)
				}
			}
			if !bytes.Equal(contents["LICENSE"], read(t, filepath.Join(repoRoot(t), "LICENSE"))) {
				t.Errorf("LICENSE in %s is not the repository's", tt.file)
			}
		})
	}
}

func TestDebianPackages(t *testing.T) {
	f := setup(t)
	for _, tt := range []struct{ file, arch, platform string }{
		{wantFiles[1], "amd64", "linux_amd64"},
		{wantFiles[2], "armhf", "linux_arm_v7"},
	} {
		t.Run(tt.arch, func(t *testing.T) {
			deb := filepath.Join(f.out1, tt.file)
			info := run(t, "dpkg-deb", "-I", deb)
			for _, field := range []string{
				"Package: cairn", "Version: " + pkgVersion, "Architecture: " + tt.arch,
				"Depends: adduser", "Section: net", "Priority: optional",
			} {
				if !regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(field) + `$`).MatchString(info) {
					t.Errorf("dpkg-deb -I %s has no line %q:\n%s", tt.file, field, info)
				}
			}
			for _, control := range []string{"postinst", "prerm", "postrm", "conffiles"} {
				if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+` + control + `\b`).MatchString(info) {
					t.Errorf("dpkg-deb -I %s lists no control file %s:\n%s", tt.file, control, info)
				}
			}
			if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); got != "/etc/default/cairn\n" {
				t.Errorf("conffiles of %s = %q, want %q", tt.file, got, "/etc/default/cairn\n")
			}
			postinst := run(t, "dpkg-deb", "-I", deb, "postinst")
			for _, s := range []string{"adduser --system --group", "install -d -o cairn -g cairn -m 0750 /var/lib/cairn"} {
				if !strings.Contains(postinst, s) {
					t.Errorf("postinst of %s does not contain %q", tt.file, s)
				}
			}

			// dpkg-deb -c: "-rwxr-xr-x root/root 123 2024-01-01 00:00 ./usr/bin/cairn"
			date := epoch.Format("2006-01-02 15:04")
			files := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
				fields := strings.Fields(line)
				if len(fields) < 6 {
					t.Fatalf("dpkg-deb -c line %q: want 6 fields", line)
				}
				if got := fields[3] + " " + fields[4]; got != date {
					t.Errorf("%s in %s has mtime %s, want %s (the epoch)", fields[5], tt.file, got, date)
				}
				files[fields[5]] = fields[0] + " " + fields[1]
			}
			want := map[string]string{
				"./usr/bin/cairn":                        "-rwxr-xr-x root/root",
				"./usr/lib/systemd/system/cairn.service": "-rw-r--r-- root/root",
				"./etc/default/cairn":                    "-rw-r--r-- root/root",
				"./usr/share/doc/cairn/copyright":        "-rw-r--r-- root/root",
			}
			for path, w := range want {
				if got := files[path]; got != w {
					t.Errorf("dpkg-deb -c %s: %s is %q, want %q", tt.file, path, got, w)
				}
			}
			for path, got := range files {
				if _, ok := want[path]; !ok && !strings.HasPrefix(got, "d") {
					t.Errorf("dpkg-deb -c %s: unexpected file %s (%s)", tt.file, path, got)
				}
				if strings.HasPrefix(path, "./var/lib/cairn") {
					t.Errorf("dpkg-deb -c %s lists %s: the data directory must not be dpkg's, or remove deletes it", tt.file, path)
				}
			}

			x := t.TempDir()
			run(t, "dpkg-deb", "-x", deb, x)
			if got, want := sha(read(t, filepath.Join(x, "usr/bin/cairn"))), sha(read(t, filepath.Join(f.bin, tt.platform, "cairn"))); got != want {
				t.Errorf("sha256 of /usr/bin/cairn in %s = %s, want %s (dist/bin/%s/cairn)", tt.file, got, want, tt.platform)
			}
			unit := string(read(t, filepath.Join(x, "usr/lib/systemd/system/cairn.service")))
			for _, s := range []string{"User=cairn", "Environment=CAIRN_DATA_DIR=/var/lib/cairn", "EnvironmentFile=-/etc/default/cairn", "ExecStart=/usr/bin/cairn", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
				if !strings.Contains(unit, s+"\n") {
					t.Errorf("cairn.service in %s has no line %q", tt.file, s)
				}
			}
		})
	}
}

func TestChecksumsSignatureVerifiesWithCosign(t *testing.T) {
	f := setup(t)
	root := repoRoot(t)
	cosign := func(dir string) error { return verifyBlob(f, root, dir) }
	if err := cosign(f.out1); err != nil {
		t.Fatalf("cosign verify-blob of the snapshot's checksums.txt: %v", err)
	}
	// A changed checksums.txt must not verify.
	bad := t.TempDir()
	for _, name := range []string{"checksums.txt.sig", "cosign.pub"} {
		write(t, filepath.Join(bad, name), read(t, filepath.Join(f.out1, name)))
	}
	write(t, filepath.Join(bad, "checksums.txt"), append(read(t, filepath.Join(f.out1, "checksums.txt")), '\n'))
	if err := cosign(bad); err == nil {
		t.Error("cosign verify-blob accepted a changed checksums.txt, want a failure")
	}
}

// Publish (a tag in CI) builds the same bytes as the snapshot and signs checksums.txt with
// the stock cosign CLI and a cosign key file; the dry run stops before the upload.
func TestPublishDryRunSignsTheSameChecksums(t *testing.T) {
	f := setup(t)
	root := repoRoot(t)
	dir := t.TempDir()
	clone := filepath.Join(dir, "clone")
	for _, args := range [][]string{{"clone", "-q", f.repo, clone}, {"-C", clone, "tag", version}} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), gitEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	keyPEM, err := sign.MarshalPrivateKey(f.key, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "cosign.key")
	write(t, keyFile, keyPEM)
	c := f.config(root, filepath.Join(dir, "out"))
	c.ModuleDir = clone
	secrets := map[string]string{"COSIGN_KEY": keyFile, "COSIGN_PASSWORD": "pw"}
	c.LookupEnv = func(k string) (string, bool) {
		if v, ok := secrets[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	if err := goreleaser.Publish(context.Background(), c, "publish", "announce"); err != nil {
		t.Fatal(err)
	}
	got := read(t, filepath.Join(c.Out, "checksums.txt"))
	if want := read(t, filepath.Join(f.out1, "checksums.txt")); !bytes.Equal(got, want) {
		t.Errorf("publish checksums.txt differs from the snapshot's:\npublish:\n%s\nsnapshot:\n%s", got, want)
	}
	write(t, filepath.Join(c.Out, "cosign.pub"), read(t, filepath.Join(f.out1, "cosign.pub")))
	if err := verifyBlob(f, root, c.Out); err != nil {
		t.Errorf("cosign verify-blob of the published checksums.txt: %v", err)
	}
}

// The release step, as `go tool mage release` runs it: the staged dist/bin and the release
// key from COSIGN_KEY/COSIGN_PASSWORD. Its checksums are those of packages.Write, and a
// changed staged binary changes exactly the artifacts that hold it.
func TestStepWritesDistPackages(t *testing.T) {
	f := setup(t)
	stage := t.TempDir()
	for _, p := range []string{"linux_amd64", "linux_arm_v7"} {
		if err := os.MkdirAll(filepath.Join(stage, "bin", p), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range record.Services {
			write(t, filepath.Join(stage, "bin", p, s.Name), read(t, filepath.Join(f.bin, p, s.Name)))
		}
	}
	keyPEM, err := sign.MarshalPrivateKey(f.key, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "cosign.key")
	write(t, keyFile, keyPEM)
	var log bytes.Buffer
	s := &record.Stage{Dir: stage, ModuleDir: f.repo, GOROOT: f.goroot, Epoch: epoch,
		Version: version, Commit: f.commit, Services: record.Services, Log: &log}
	step := packages.Step(signstep.Keys{KeyFile: keyFile, Password: "pw"}, os.Getenv)
	if err := step(context.Background(), s); err != nil {
		t.Fatalf("packages step: %v\nlog:\n%s", err, log.String())
	}
	out := filepath.Join(stage, packages.Dir)
	for _, a := range wantFiles[1:5] {
		if !strings.Contains(log.String(), "packages: "+a+" (") {
			t.Errorf("step log %q, want a progress line for %s", log.String(), a)
		}
	}
	if got, want := read(t, filepath.Join(out, "checksums.txt")), read(t, filepath.Join(f.out1, "checksums.txt")); !bytes.Equal(got, want) {
		t.Errorf("the step's checksums.txt differs from Write's:\nstep:\n%s\nWrite:\n%s", got, want)
	}
	if err := verifyBlob(f, repoRoot(t), out); err != nil {
		t.Errorf("cosign verify-blob of the step's checksums.txt: %v", err)
	}

	// The archives hold the staged binaries: with one changed, its archive and the .deb
	// that holds it change, and nothing else.
	marked := filepath.Join(stage, "bin", "linux_amd64", "cairn")
	write(t, marked, append(read(t, marked), []byte("staged")...))
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if err := step(context.Background(), s); err != nil {
		t.Fatalf("packages step with a changed staged binary: %v\nlog:\n%s", err, log.String())
	}
	sums, err := packages.ParseChecksums(read(t, filepath.Join(out, "checksums.txt")))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := packages.ParseChecksums(read(t, filepath.Join(f.out1, "checksums.txt")))
	var changed []string
	for i, a := range sums {
		if a != before[i] {
			changed = append(changed, a.Name)
		}
	}
	if want := []string{wantFiles[1], wantFiles[3]}; !slices.Equal(changed, want) {
		t.Errorf("with dist/bin/linux_amd64/cairn changed, the artifacts that changed are %v, want %v", changed, want)
	}
}

func TestChangelog(t *testing.T) {
	f := setup(t)
	want := "# Changelog\n\n## " + version + "\n\n* " + f.commit[:12] + " Cairn fixture\n"
	if got := string(read(t, filepath.Join(f.out1, "CHANGELOG.md"))); got != want {
		t.Errorf("CHANGELOG.md = %q, want %q", got, want)
	}
}

// verifyBlob runs the stock cosign CLI of lock/tools.mod on dir's checksums.txt, its
// signature and cosign.pub.
func verifyBlob(f *fixture, root, dir string) error {
	cmd := exec.Command(filepath.Join(f.goroot, "bin", "go"), "tool", "-modfile="+filepath.Join(root, lock.ToolsModFile),
		"cosign", "verify-blob", "--key", filepath.Join(dir, "cosign.pub"),
		"--signature", filepath.Join(dir, "checksums.txt.sig"),
		"--insecure-ignore-tlog", filepath.Join(dir, "checksums.txt"))
	// go tool -modfile needs a module root; the repository's is the one of lock/tools.mod.
	cmd.Dir = root
	cmd.Env = goreleaser.Env(goreleaser.Config{GOROOT: f.goroot, Epoch: epoch})
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
