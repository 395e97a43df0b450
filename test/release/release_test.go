// Package release_test drives the release pipeline end to end: a tiny fixture module
// (testdata/fixture, one HTTP service) released in-process and by the cairn-release CLI,
// checked by go-containerregistry's validate, skopeo, umoci, qemu-arm-static and debug/elf;
// a killed release; verify catching a changed byte; and one full release of the real
// services followed by verify.
package release_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/verify"
	"github.com/cairn-iot/cairn/test/testenv"
)

func TestSameDigestsFromTwoDirectories(t *testing.T) {
	_, distA := fixtureRelease(t)
	modB := copyFixture(t, filepath.Join(t.TempDir(), "elsewhere", "deeper"))
	if _, err := release.Run(context.Background(), fixtureOptions(t, modB)); err != nil {
		t.Fatal(err)
	}
	distB := filepath.Join(modB, "dist")
	a, err := os.ReadFile(filepath.Join(distA, record.File))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(distB, record.File))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("release.json differs between two directories:\n%s\n%s", a, b)
	}
	rep, err := verify.Compare(distA, distB)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass {
		t.Errorf("Compare(dir A, dir B) failed:\n%s", rep.Text())
	}
}

func TestRecordShape(t *testing.T) {
	_, dist := fixtureRelease(t)
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != fixtureVersion || rec.Commit != fixtureCommit || rec.Epoch != fixtureEpoch || rec.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("record identity = %s %s %d %s, want %s %s %d 2023-11-14T22:13:20Z", rec.Version, rec.Commit, rec.Epoch, rec.Created, fixtureVersion, fixtureCommit, fixtureEpoch)
	}
	if len(rec.Images) != 1 || len(rec.Images[0].Platforms) != 2 {
		t.Fatalf("record has %d images, want 1 with 2 platforms: %+v", len(rec.Images), rec.Images)
	}
	for i, want := range []string{"linux/amd64", "linux/arm/v7"} {
		p := rec.Images[0].Platforms[i]
		if p.Platform != want {
			t.Errorf("platform %d = %s, want %s", i, p.Platform, want)
		}
		for _, d := range append([]string{p.Manifest, p.Config}, p.Layers...) {
			if _, err := os.Stat(filepath.Join(dist, "oci", "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))); err != nil {
				t.Errorf("%s: recorded blob %s not in dist/oci: %v", want, d, err)
			}
		}
	}
	// Canonical: re-encoding the decoded record gives the same bytes.
	raw, _ := os.ReadFile(filepath.Join(dist, record.File))
	again, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again) {
		t.Errorf("release.json is not canonical:\n got %s\nwant %s", raw, again)
	}
}

func TestLayoutValidates(t *testing.T) {
	_, dist := fixtureRelease(t)
	p, err := layout.FromPath(filepath.Join(dist, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations[images.AnnotationRefName] != "hello" {
		t.Fatalf("index.json manifests = %+v, want one named hello", im.Manifests)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index(hello): %v", err)
	}
	for _, a := range []string{"hello_linux_amd64.docker.tar", "hello_linux_arm_v7.docker.tar", "hello.oci.tar"} {
		if fi, err := os.Stat(filepath.Join(dist, "archives", a)); err != nil || fi.Size() == 0 {
			t.Errorf("archive %s missing or empty: %v", a, err)
		}
	}
}

func TestSkopeo(t *testing.T) {
	skopeo := testenv.LookPath(t, "skopeo", "skopeo")
	_, dist := fixtureRelease(t)
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // a digest the output must contain
	}{
		{"inspect layout amd64", []string{"inspect", "--override-arch", "amd64", "oci:" + filepath.Join(dist, "oci") + ":hello"}, rec.Images[0].Platforms[0].Layers[0]},
		{"inspect layout arm/v7", []string{"inspect", "--override-arch", "arm", "--override-variant", "v7", "oci:" + filepath.Join(dist, "oci") + ":hello"}, rec.Images[0].Platforms[1].Layers[0]},
		{"inspect raw index", []string{"inspect", "--raw", "oci:" + filepath.Join(dist, "oci") + ":hello"}, rec.Images[0].Platforms[1].Manifest},
		{"inspect oci-archive", []string{"inspect", "--raw", "oci-archive:" + filepath.Join(dist, "archives", "hello.oci.tar")}, rec.Images[0].Platforms[0].Manifest},
		{"inspect docker-archive", []string{"inspect", "--raw", "--config", "docker-archive:" + filepath.Join(dist, "archives", "hello_linux_arm_v7.docker.tar")}, `"variant":"v7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(skopeo, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("skopeo %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("skopeo %s output lacks %s:\n%s", strings.Join(tt.args, " "), tt.want, out)
			}
		})
	}
	t.Run("copy to dir", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "copy")
		out, err := exec.Command(skopeo, "copy", "--all", "oci:"+filepath.Join(dist, "oci")+":hello", "dir:"+dst).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, out)
		}
		for _, p := range rec.Images[0].Platforms {
			if _, err := os.Stat(filepath.Join(dst, strings.TrimPrefix(p.Layers[0], "sha256:"))); err != nil {
				t.Errorf("skopeo copy did not write the %s layer: %v", p.Platform, err)
			}
		}
	})
}

func TestUmociUnpack(t *testing.T) {
	umoci := testenv.LookPath(t, "umoci", "umoci")
	_, dist := fixtureRelease(t)
	rec, err := record.Load(filepath.Join(dist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.Images[0].Platforms {
		t.Run(p.Platform, func(t *testing.T) {
			// umoci resolves a ref to exactly one manifest; give it the platform's manifest
			// under its own name in a copy of the layout.
			lay := filepath.Join(t.TempDir(), "oci")
			copyDir(t, filepath.Join(dist, "oci"), lay)
			b, _ := os.ReadFile(filepath.Join(lay, "blobs", "sha256", strings.TrimPrefix(p.Manifest, "sha256:")))
			idx := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{{
				MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(b)),
				Digest: v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(p.Manifest, "sha256:")}, Annotations: map[string]string{images.AnnotationRefName: "one"},
			}}}
			raw, _ := json.Marshal(idx)
			if err := os.WriteFile(filepath.Join(lay, "index.json"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			bundle := filepath.Join(t.TempDir(), "bundle")
			args := []string{"unpack", "--image", lay + ":one", bundle}
			if os.Geteuid() != 0 {
				args = []string{"unpack", "--rootless", "--image", lay + ":one", bundle}
			}
			if out, err := exec.Command(umoci, args...).CombinedOutput(); err != nil {
				t.Fatalf("umoci %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			fi, err := os.Stat(filepath.Join(bundle, "rootfs", "usr", "local", "bin", "hello"))
			if err != nil {
				t.Fatalf("binary not in the unpacked rootfs: %v", err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("binary mode = %v, want 0755", fi.Mode().Perm())
			}
			if os.Geteuid() == 0 {
				uid, gid := owner(fi)
				if uid != 0 || gid != 0 {
					t.Errorf("binary owner = %d:%d, want 0:0", uid, gid)
				}
				di, err := os.Stat(filepath.Join(bundle, "rootfs", "var", "lib", "hello"))
				if err != nil {
					t.Fatalf("data dir not in the rootfs: %v", err)
				}
				if uid, gid := owner(di); uid != 65532 || gid != 65532 {
					t.Errorf("data dir owner = %d:%d, want 65532:65532", uid, gid)
				}
			}
			var cfg struct {
				Process struct {
					User struct{ UID, GID int }
					Args []string
				}
			}
			readJSON(t, filepath.Join(bundle, "config.json"), &cfg)
			if cfg.Process.User.UID != 65532 || cfg.Process.User.GID != 65532 {
				t.Errorf("runtime user = %d:%d, want 65532:65532", cfg.Process.User.UID, cfg.Process.User.GID)
			}
			if len(cfg.Process.Args) != 1 || cfg.Process.Args[0] != "/usr/local/bin/hello" {
				t.Errorf("runtime args = %q, want [/usr/local/bin/hello]", cfg.Process.Args)
			}
		})
	}
}

// TestELFHeaders checks the binaries are static executables of the right machine. For
// arm/v7: 32-bit ARM, EABI version 5, no soft-float flag, and built with GOARM=7 (the Go
// linker leaves the float-ABI bits of e_flags empty because a static Go binary has no C
// calling convention to announce; GOARM=7 is what makes Go use the VFPv3 hardware floating
// point, and the build records it).
func TestELFHeaders(t *testing.T) {
	_, dist := fixtureRelease(t)
	tests := []struct {
		dir     string
		class   elf.Class
		machine elf.Machine
		setting string
	}{
		{"linux_amd64", elf.ELFCLASS64, elf.EM_X86_64, "GOAMD64=v1"},
		{"linux_arm_v7", elf.ELFCLASS32, elf.EM_ARM, "GOARM=7"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p := filepath.Join(dist, "bin", tt.dir, "hello")
			f, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Class != tt.class || f.Machine != tt.machine || f.Type != elf.ET_EXEC {
				t.Errorf("ELF class, machine, type = %v, %v, %v, want %v, %v, ET_EXEC", f.Class, f.Machine, f.Type, tt.class, tt.machine)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("program header %v present: the binary is not static", prog.Type)
				}
			}
			if f.Machine == elf.EM_ARM {
				const eabiMask, eabi5, softFloat = 0xFF000000, 0x05000000, 0x200
				var flags uint32
				if hdr, err := readELFFlags(p); err == nil {
					flags = hdr
				} else {
					t.Fatal(err)
				}
				if flags&eabiMask != eabi5 {
					t.Errorf("e_flags = %#x, want EABI version 5 (%#x)", flags, eabi5)
				}
				if flags&softFloat != 0 {
					t.Errorf("e_flags = %#x has EF_ARM_ABI_FLOAT_SOFT, want hard float", flags)
				}
			}
			// Stripped (-s -w): no symbol table, no DWARF; the build information stays.
			for _, name := range []string{".symtab", ".debug_info", ".zdebug_info", ".debug_line"} {
				if f.Section(name) != nil {
					t.Errorf("section %s present: the binary is not stripped (-ldflags -s -w)", name)
				}
			}
			bi, err := buildinfo.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			k, v, _ := strings.Cut(tt.setting, "=")
			if settings[k] != v || settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
				t.Errorf("build settings %v, want %s, CGO_ENABLED=0, -trimpath=true", bi.Settings, tt.setting)
			}
		})
	}
}

// readELFFlags reads e_flags of a 32-bit little-endian ELF file (offset 0x24).
func readELFFlags(p string) (uint32, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, 0x24); err != nil {
		return 0, err
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

func TestARMBinaryAnswersHealthUnderQEMU(t *testing.T) {
	qemu := testenv.LookPath(t, "qemu-arm-static", "qemu-user-static")
	_, dist := fixtureRelease(t)
	addr := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, qemu, filepath.Join(dist, "bin", "linux_arm_v7", "hello"), "-addr", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	testenv.WaitHTTP(t, "http://"+addr+"/health", 60*time.Second)
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /health = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
}
