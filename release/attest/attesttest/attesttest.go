// Package attesttest builds small, reproducible multi-arch fixture images holding a real Go
// binary (hello, built once per test process with the host go) for the tests of the signing,
// push and audit packages.
package attesttest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cairn-iot/cairn/release/attest"
)

// Epoch is the fixed release time of fixtures.
var Epoch = time.Unix(1700000000, 0).UTC()

// Platforms are the fixture's platforms, in index order.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm", Variant: "v7"},
}

var (
	once   sync.Once
	bins   map[string][]byte
	errBin error
)

// Binary returns the hello binary for p, built once per process.
func Binary(t testing.TB, p v1.Platform) []byte {
	t.Helper()
	once.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-hello-")
		if err != nil {
			errBin = err
			return
		}
		defer os.RemoveAll(dir)
		bins = map[string][]byte{}
		for _, p := range Platforms {
			out := filepath.Join(dir, p.Architecture)
			cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-buildid=", "-o", out, "github.com/cairn-iot/cairn/release/attest/attesttest/hello")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOARM=7", "GOAMD64=v1", "GOFLAGS=-mod=mod", "GOWORK=off")
			if b, err := cmd.CombinedOutput(); err != nil {
				errBin = fmt.Errorf("building hello for %s: %v\n%s", p, err, b)
				return
			}
			data, err := os.ReadFile(out)
			if err != nil {
				errBin = err
				return
			}
			bins[p.String()] = data
		}
	})
	if errBin != nil {
		t.Fatal(errBin)
	}
	return bins[p.String()]
}

// Layer returns a reproducible gzip layer holding files (path -> contents, mode 0755).
func Layer(t testing.TB, files map[string][]byte, order []string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(files[name])), ModTime: Epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image returns the fixture image for p: hello at /usr/bin/<name>.
func Image(t testing.TB, name string, p v1.Platform) v1.Image {
	t.Helper()
	return ImageWith(t, p, Layer(t, map[string][]byte{"usr/bin/" + name: Binary(t, p)}, []string{"usr/bin/" + name}))
}

// ImageWith returns an image for p with the given layers.
func ImageWith(t testing.TB, p v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.History = nil
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: Epoch})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Index returns the two-platform fixture index of the image called name.
func Index(t testing.TB, name string) v1.ImageIndex {
	t.Helper()
	imgs := make([]v1.Image, len(Platforms))
	for i, p := range Platforms {
		imgs[i] = Image(t, name, p)
	}
	return IndexOf(t, imgs...)
}

// IndexOf returns an OCI index of imgs, in order, each with its config's platform.
func IndexOf(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		p := cf.Platform()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx
}

// Build is a plausible provenance input for fixtures.
func Build() attest.Build {
	return attest.Build{
		Repository: "https://github.com/cairn-iot/cairn", Commit: "0123456789abcdef0123456789abcdef01234567",
		Version: "v0.0.0-test", Target: "release", Platforms: []string{"linux/amd64", "linux/arm/v7"},
		Epoch: Epoch, LockFile: "lock/lock.json", LockSHA256: "00" + fmt.Sprintf("%062d", 0),
		Toolchain: "go1.26.8", ToolchainURI: "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip",
		ToolchainSHA256: fmt.Sprintf("%064d", 1), Compressor: "compress/gzip level 9",
	}
}
