package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/verify"
)

// fakeRelease is a release of two services in dir whose `go build` writes a binary naming
// its output path and version, without a compiler; an output that differ names gets other
// bytes.
func fakeRelease(dir string, differ func(out string) bool) release.Options {
	return release.Options{
		Mode:      release.ModeImages,
		ModuleDir: dir,
		Services: []record.Service{
			{Name: "a", Package: "./cmd/a", Ports: []string{"80/tcp"}},
			{Name: "b", Package: "./cmd/b", Ports: []string{"81/tcp"}},
		},
		GOROOT: "/pinned", Toolchain: "go1.26.8",
		Version: "v1.0.0", Commit: "c0ffee", Epoch: time.Unix(1700000000, 0),
		Compressor: images.DefaultCompressor,
		GoBuild: func(ctx context.Context, _, _ string, args, _ []string) error {
			out := args[len(args)-2]
			content := "binary " + filepath.Base(filepath.Dir(out)) + "/" + filepath.Base(out)
			if differ != nil && differ(out) {
				content = "different"
			}
			return os.WriteFile(out, []byte(content), 0o755)
		},
	}
}

func TestCompareNamesDifferences(t *testing.T) {
	dir := t.TempDir()
	o := fakeRelease(dir, nil)
	if _, err := release.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o2 := fakeRelease(dir, func(out string) bool { return strings.HasSuffix(out, filepath.Join("linux_arm_v7", "b")) })
	o2.DistDir = filepath.Join(dir, "other")
	if _, err := release.Run(context.Background(), o2); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Compare(filepath.Join(dir, "dist"), o2.DistDir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass {
		t.Fatal("Compare of different releases passed")
	}
	text := rep.Text()
	for _, want := range []string{
		"FAIL image b linux/arm/v7 layer 0: layer sha256:",
		"differing files: usr/local/bin/b (content sha256",
		"FAIL bin/linux_arm_v7/b",
		"PASS image a linux/arm/v7 layer 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
