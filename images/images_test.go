package images

import (
	"archive/tar"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_index_digest.txt (a conscious, reviewed change)")

// fixture is the golden image: fixed "binaries" for both platforms and a fixed epoch.
// The two platforms of a Cairn release (release/build.Targets), in index order.
var (
	linuxAMD64 = Platform{OS: "linux", Architecture: "amd64"}
	linuxARMv7 = Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
)

func fixture() (Spec, []Binary, time.Time) {
	spec := Spec{
		Name:     "fixture",
		Ports:    []string{"8080/tcp", "1883/tcp"},
		DataDirs: []string{"/var/lib/fixture"},
		Source:   "https://github.com/cairn-iot/cairn",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Version:  "v0.0.0-golden",
	}
	bins := []Binary{
		{Platform: linuxAMD64, Data: []byte("\x7fELF fixture binary for amd64\n")},
		{Platform: linuxARMv7, Data: []byte("\x7fELF fixture binary for arm v7\n")},
	}
	return spec, bins, time.Unix(1700000000, 0)
}

func TestGoldenIndexDigest(t *testing.T) {
	spec, bins, epoch := fixture()
	idx, err := Index(spec, bins, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden_index_digest.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(d.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden digest (create it with go test ./images -run Golden -update): %v", err)
	}
	if got := d.String(); got != strings.TrimSpace(string(want)) {
		raw, _ := idx.RawManifest()
		t.Errorf("Index(fixture).Digest() = %s, want %s (golden); index:\n%s", got, strings.TrimSpace(string(want)), raw)
	}
}

func TestIndexShape(t *testing.T) {
	spec, bins, epoch := fixture()
	idx, err := Index(spec, bins, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex {
		t.Errorf("index media type = %s, want %s", mt, types.OCIImageIndex)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{
		AnnotationCreated:  "2023-11-14T22:13:20Z",
		AnnotationSource:   spec.Source,
		AnnotationRevision: spec.Revision,
		AnnotationVersion:  spec.Version,
	}
	if diff := cmp.Diff(wantAnn, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2", len(im.Manifests))
	}
	for i, desc := range im.Manifests {
		want := bins[i].Platform
		if diff := cmp.Diff(want.V1(), desc.Platform); diff != "" {
			t.Errorf("manifest %d platform (-want +got):\n%s", i, diff)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || m.Layers[0].MediaType != types.OCILayer {
			t.Errorf("%s: media types %s, %s, %s, want OCI ones", want, m.MediaType, m.Config.MediaType, m.Layers[0].MediaType)
		}
		if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
			t.Errorf("%s manifest annotations (-want +got):\n%s", want, diff)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		got := Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if got != want {
			t.Errorf("config platform = %v, want %v", got, want)
		}
		if !cfg.Created.Time.Equal(epoch) {
			t.Errorf("config created = %v, want %v", cfg.Created.Time, epoch)
		}
		if cfg.Config.User != RunAs {
			t.Errorf("config user = %q, want %q", cfg.Config.User, RunAs)
		}
		if diff := cmp.Diff([]string{"/usr/local/bin/fixture"}, cfg.Config.Entrypoint); diff != "" {
			t.Errorf("entrypoint (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]struct{}{"8080/tcp": {}, "1883/tcp": {}}, cfg.Config.ExposedPorts); diff != "" {
			t.Errorf("exposed ports (-want +got):\n%s", diff)
		}
		raw, _ := img.RawConfigFile()
		if !bytes.Contains(raw, []byte(`"created":"2023-11-14T22:13:20Z"`)) {
			t.Errorf("raw config does not carry created = the epoch: %s", raw)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("validate.Image(%s): %v", want, err)
		}
	}
}

func TestLayerTar(t *testing.T) {
	spec, bins, epoch := fixture()
	b, err := LayerTar(spec, bins[0].Data, epoch)
	if err != nil {
		t.Fatal(err)
	}
	type ent struct {
		Name     string
		Mode     int64
		Uid, Gid int
		Type     byte
		Data     string
	}
	var got []ent
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, epoch)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname %q gname %q, want none", h.Name, h.Uname, h.Gname)
		}
		if h.Format != tar.FormatUSTAR {
			t.Errorf("%s: format %v, want USTAR", h.Name, h.Format)
		}
		got = append(got, ent{h.Name, h.Mode, h.Uid, h.Gid, h.Typeflag, string(data)})
	}
	want := []ent{
		{"usr/", 0o755, 0, 0, tar.TypeDir, ""},
		{"usr/local/", 0o755, 0, 0, tar.TypeDir, ""},
		{"usr/local/bin/", 0o755, 0, 0, tar.TypeDir, ""},
		{"usr/local/bin/fixture", 0o755, 0, 0, tar.TypeReg, string(bins[0].Data)},
		{"var/", 0o755, 0, 0, tar.TypeDir, ""},
		{"var/lib/", 0o755, 0, 0, tar.TypeDir, ""},
		{"var/lib/fixture/", 0o750, 65532, 65532, tar.TypeDir, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LayerTar entries (-want +got):\n%s", diff)
	}
}

type memCache struct {
	mu         sync.Mutex
	m          map[string]CachedLayer
	gets, hits int
	puts       int
}

func (c *memCache) Get(k string) (CachedLayer, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	l, ok := c.m[k]
	if ok {
		c.hits++
	}
	return l, ok, nil
}

func (c *memCache) Put(k string, l CachedLayer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	c.m[k] = l
	return nil
}

func TestCacheGivesSameDigest(t *testing.T) {
	spec, bins, epoch := fixture()
	c := &memCache{m: map[string]CachedLayer{}}
	digest := func() v1.Hash {
		idx, err := Index(spec, bins, epoch, WithCache(c))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := idx.Digest()
		return d
	}
	first := digest()
	second := digest()
	if first != second {
		t.Errorf("digest with cache hit = %s, want %s", second, first)
	}
	if c.puts != 2 || c.hits != 2 {
		t.Errorf("cache puts, hits = %d, %d, want 2, 2", c.puts, c.hits)
	}
	nocache, err := Index(spec, bins, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := nocache.Digest(); d != first {
		t.Errorf("digest without cache = %s, want %s", d, first)
	}
}

func TestInputsChangeDigest(t *testing.T) {
	spec, bins, epoch := fixture()
	base, err := Index(spec, bins, epoch)
	if err != nil {
		t.Fatal(err)
	}
	baseD, _ := base.Digest()
	other := append([]Binary(nil), bins...)
	other[1] = Binary{Platform: linuxARMv7, Data: []byte("other")}
	spec2 := spec
	spec2.Version = "v9"
	tests := []struct {
		name  string
		spec  Spec
		bins  []Binary
		epoch time.Time
	}{
		{"epoch", spec, bins, epoch.Add(time.Second)},
		{"binary", spec, other, epoch},
		{"version", spec2, bins, epoch},
		{"order", spec, []Binary{bins[1], bins[0]}, epoch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := Index(tt.spec, tt.bins, tt.epoch)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := idx.Digest(); d == baseD {
				t.Errorf("changing the %s left the digest at %s", tt.name, d)
			}
		})
	}
}

func TestIndexErrors(t *testing.T) {
	spec, bins, epoch := fixture()
	bad := spec
	bad.Name = "a/b"
	badPort := spec
	badPort.Ports = []string{"8080"}
	tests := []struct {
		name  string
		spec  Spec
		bins  []Binary
		epoch time.Time
		want  string
	}{
		{"zero epoch", spec, bins, time.Time{}, "epoch"},
		{"bad name", bad, bins, epoch, "service name"},
		{"bad port", badPort, bins, epoch, "8080"},
		{"no binaries", spec, nil, epoch, "no binaries"},
		{"duplicate platform", spec, []Binary{bins[0], bins[0]}, epoch, "two binaries"},
		{"empty binary", spec, []Binary{{Platform: linuxAMD64}}, epoch, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Index(tt.spec, tt.bins, tt.epoch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Index() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
