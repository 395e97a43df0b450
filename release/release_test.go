package release

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release/record"
)

// fakeGo "builds" a binary whose bytes name the package, platform and version: the
// pipeline is exercised without a compiler.
func fakeGo(ctx context.Context, dir, goBin string, args, env []string) error {
	out, pkg := args[len(args)-2], args[len(args)-1]
	var goarch string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOARCH="); ok {
			goarch = v
		}
	}
	return os.WriteFile(out, []byte("binary "+pkg+" "+goarch+" "+args[4]), 0o755)
}

func testOptions(dir string) Options {
	return Options{
		Mode:      ModeImages,
		ModuleDir: dir,
		Services: []record.Service{
			{Name: "a", Package: "./cmd/a", Ports: []string{"80/tcp"}},
			{Name: "b", Package: "./cmd/b", Ports: []string{"81/tcp"}, DataDirs: []string{"/var/lib/b"}},
		},
		GOROOT: "/pinned", Toolchain: "go1.26.8",
		Version: "v1.0.0", Commit: "c0ffee", Epoch: time.Unix(1700000000, 0),
		Compressor: images.DefaultCompressor,
		GoBuild:    fakeGo,
	}
}

func TestRunWritesDist(t *testing.T) {
	dir := t.TempDir()
	rec, err := Run(context.Background(), testOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(dir, "dist")
	for _, p := range []string{
		"bin/linux_amd64/a", "bin/linux_arm_v7/b", "oci/oci-layout", "oci/index.json", "release.json",
		"archives/a.oci.tar", "archives/b_linux_amd64.docker.tar", "archives/b_linux_arm_v7.docker.tar",
	} {
		if _, err := os.Stat(filepath.Join(dist, p)); err != nil {
			t.Errorf("dist/%s: %v", p, err)
		}
	}
	var names []string
	for _, im := range rec.Images {
		names = append(names, im.Name)
	}
	if diff := cmp.Diff([]string{"a", "b"}, names); diff != "" {
		t.Errorf("record images (-want +got):\n%s", diff)
	}
	loaded, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, loaded); diff != "" {
		t.Errorf("release.json round trip (-want +got):\n%s", diff)
	}
	// A second run with the layer cache gives the same bytes.
	again := testOptions(dir)
	again.Cache = DiskCache{Dir: t.TempDir()}
	again.DistDir = filepath.Join(dir, "dist2")
	if _, err := Run(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dist, again.DistDir)
}

func TestStepsSeeTheStageAndFailuresKeepDist(t *testing.T) {
	dir := t.TempDir()
	if _, err := Run(context.Background(), testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "dist", record.File))
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(dir)
	o.Mode = ModeRelease
	o.Version = "v2.0.0"
	var seen *record.Stage
	o.Steps = []record.Step{
		func(ctx context.Context, s *record.Stage) error {
			seen = s
			return os.WriteFile(filepath.Join(s.Dir, "from-step"), []byte("x"), 0o644)
		},
		func(ctx context.Context, s *record.Stage) error { return errors.New("signing failed") },
	}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "signing failed") {
		t.Fatalf("Run with a failing step: error = %v, want the step's error", err)
	}
	if seen == nil || seen.Version != "v2.0.0" || len(seen.Indexes) != 2 || seen.Record == nil || !seen.Epoch.Equal(o.Epoch) {
		t.Errorf("step saw stage %+v, want version v2.0.0, 2 indexes, the record and the epoch", seen)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "dist", record.File))
	if string(before) != string(after) {
		t.Errorf("a failed release changed dist/release.json")
	}
	if _, err := os.Stat(filepath.Join(dir, "dist", "from-step")); !os.IsNotExist(err) {
		t.Errorf("a failed release's step output reached dist/")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "dist.staging-*")); len(left) != 0 {
		t.Errorf("staging dirs left: %v", left)
	}
}

func TestRequireCleanRefusesDirtyTree(t *testing.T) {
	o := testOptions(t.TempDir())
	o.Dirty, o.RequireClean = true, true
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "dirty") {
		t.Fatalf("Run(dirty, require clean) error = %v, want a dirty-tree refusal", err)
	}
	o.RequireClean = false
	rec, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Dirty {
		t.Errorf("record dirty = false, want true")
	}
}

func TestDiskCacheIgnoresDamagedEntries(t *testing.T) {
	c := DiskCache{Dir: t.TempDir()}
	l := images.CachedLayer{Compressed: []byte("gzip bytes")}
	l.DiffID.Algorithm, l.DiffID.Hex = "sha256", strings.Repeat("a", 64)
	if err := c.Put("k", l); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get("k")
	if err != nil || !ok || string(got.Compressed) != "gzip bytes" || got.DiffID != l.DiffID {
		t.Fatalf("Get(k) = %+v, %v, %v, want the layer put", got, ok, err)
	}
	p := filepath.Join(c.Dir, "k.layer")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, ok, err := c.Get("k"); ok || err != nil {
		t.Errorf("Get(damaged) = ok %v, err %v, want a miss", ok, err)
	}
}

// sameTree fails t unless the directories a and b hold the same files with the same bytes.
// (Package verify's Compare names differences; here equality is all a test needs.)
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	read := func(root string) map[string]string {
		files := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			b, err := os.ReadFile(p)
			files[filepath.ToSlash(rel)] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	wa, wb := read(a), read(b)
	delete(wa, record.InputsFile)
	delete(wb, record.InputsFile)
	if len(wa) == 0 {
		t.Fatalf("%s holds no files", a)
	}
	for name := range wa {
		if wa[name] != wb[name] {
			t.Errorf("%s differs between %s and %s", name, a, b)
		}
	}
	for name := range wb {
		if _, ok := wa[name]; !ok {
			t.Errorf("%s is in %s only", name, b)
		}
	}
}
