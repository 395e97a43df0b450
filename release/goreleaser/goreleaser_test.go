package goreleaser

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/release/record"
)

func TestEnvIsBuiltFromNothing(t *testing.T) {
	caller := map[string]string{
		"PATH":         "/bin",
		"HOME":         "/home/x",
		"GOPROXY":      "https://proxy.example",
		"GOOS":         "windows", // leaks into the build if passed through
		"CGO_ENABLED":  "1",
		"GOFLAGS":      "-mod=mod",
		"GITHUB_TOKEN": "secret",
		"RANDOM":       "x",
	}
	c := Config{
		GOROOT:    "/go",
		Version:   "1.2.3",
		Commit:    "abc",
		Epoch:     time.Unix(1700000000, 0),
		LookupEnv: func(k string) (string, bool) { v, ok := caller[k]; return v, ok },
	}
	want := []string{
		"CAIRN_COMMIT=abc",
		"CAIRN_GO=/go/bin/go",
		"CAIRN_MTIME=2023-11-14T22:13:20Z",
		"CAIRN_PKG_VERSION=1.2.3",
		"CAIRN_VERSION=1.2.3",
		"CC=",
		"CGO_ENABLED=0",
		"CXX=",
		"GODEBUG=",
		"GOENV=off",
		"GOEXPERIMENT=",
		"GOFIPS140=",
		"GOFLAGS=-mod=readonly",
		"GOPROXY=https://proxy.example",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"HOME=/home/x",
		"PATH=/go/bin:/bin",
		"SOURCE_DATE_EPOCH=1700000000",
		"TZ=UTC",
	}
	if diff := cmp.Diff(want, Env(c)); diff != "" {
		t.Errorf("Env() mismatch (-want +got):\n%s", diff)
	}
	got := Env(c, PublishPassthrough...)
	if !contains(got, "GITHUB_TOKEN=secret") {
		t.Errorf("Env(c, PublishPassthrough...) = %q, want GITHUB_TOKEN passed through", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRewriteDist(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		want    string
		wantErr bool
	}{
		{"one line", "version: 2\ndist: dist/goreleaser\nbuilds: []\n", "version: 2\ndist: '/tmp/it''s'\nbuilds: []\n", false},
		{"missing", "version: 2\n", "", true},
		{"twice", "dist: dist/goreleaser\ndist: dist/goreleaser\n", "", true},
		{"other dist", "dist: out\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RewriteDist([]byte(tt.config), "/tmp/it's")
			if (err != nil) != tt.wantErr {
				t.Fatalf("RewriteDist(%q) error = %v, want error %v", tt.config, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("RewriteDist(%q) = %q, want %q", tt.config, got, tt.want)
			}
		})
	}
}

// The repository's config must keep the line the release replaces, and the ldflags of the
// release build char for char (they are recorded in the binaries' build info).
func TestRepositoryConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RewriteDist(b, "/x"); err != nil {
		t.Error(err)
	}
	const ldflags = `-s -w -buildid= -X github.com/cairn-iot/cairn/platform/version.Version={{ .Env.CAIRN_VERSION }} -X github.com/cairn-iot/cairn/platform/version.Commit={{ .Env.CAIRN_COMMIT }}`
	if n := strings.Count(string(b), "- "+ldflags+"\n"); n != 1 {
		t.Errorf("%s has the release ldflags %d times, want once: %s", ConfigFile, n, ldflags)
	}
	for _, s := range []string{"flags: [-trimpath, -buildvcs=false]", "targets: [linux_amd64_v1, linux_arm_7]", `tool: "{{ .Env.CAIRN_GO }}"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s does not contain %q", ConfigFile, s)
		}
	}
}

func TestCompareBinaries(t *testing.T) {
	type file struct{ platform, name, content string }
	tests := []struct {
		name    string
		built   []file
		bin     []file
		wantErr string
	}{
		{
			name:  "identical",
			built: []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "cairn", "B"}},
			bin:   []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "cairn", "B"}},
		},
		{
			name:    "one byte differs",
			built:   []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "cairn", "B"}},
			bin:     []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "cairn", "C"}},
			wantErr: "linux_arm_v7/cairn: goreleaser built sha256:",
		},
		{
			name:    "missing from goreleaser",
			built:   []file{{"linux_amd64", "cairn", "A"}},
			bin:     []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "cairn", "B"}},
			wantErr: "linux_arm_v7/cairn: in dist/bin, not built by goreleaser",
		},
		{
			name:    "extra in goreleaser",
			built:   []file{{"linux_amd64", "cairn", "A"}, {"linux_amd64", "users", "U"}},
			bin:     []file{{"linux_amd64", "cairn", "A"}, {"linux_arm_v7", "x", "B"}},
			wantErr: "linux_amd64/users: built by goreleaser, not in dist/bin",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// As in a release: goreleaser runs in the module dir, its dist is deeper.
			dist := filepath.Join(dir, "dist.staging-1", ".goreleaser-2", "dist")
			bin := filepath.Join(dir, "dist.staging-1", "bin")
			for _, p := range []string{"linux_amd64", "linux_arm_v7"} {
				if err := os.MkdirAll(filepath.Join(bin, p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var arts []map[string]string
			for _, f := range tt.built {
				p := filepath.Join(dist, f.name+"_"+f.platform, f.name)
				write(t, p, f.content)
				// goreleaser writes paths relative to its working directory (dir here)
				// when its dist is below it, as the release's staging dir is.
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					t.Fatal(err)
				}
				a := map[string]string{"name": f.name, "path": rel, "goos": "linux", "type": "Binary"}
				if f.platform == "linux_amd64" && f.name == "cairn" {
					a["path"] = p // and absolute paths elsewhere
				}
				if f.platform == "linux_amd64" {
					a["goarch"] = "amd64"
				} else {
					a["goarch"], a["goarm"] = "arm", "7"
				}
				arts = append(arts, a, map[string]string{"name": "x.tar.gz", "type": "Archive"})
			}
			for _, f := range tt.bin {
				write(t, filepath.Join(bin, f.platform, f.name), f.content)
			}
			j, _ := json.Marshal(arts)
			write(t, filepath.Join(dist, "artifacts.json"), string(j))
			err := CompareBinaries(dir, dist, bin)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CompareBinaries() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CompareBinaries() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The builds of .goreleaser.yaml are record.Services, in order: a service added to the
// table must be added to the archives too.
func TestConfigBuildsAreTheServices(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s+id: (\S+)\n\s+main: (\S+)\n\s+binary: (\S+)\n`)
	var got, want []string
	var ids []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		got = append(got, m[3]+" "+m[2])
		if m[1] != m[3] {
			t.Errorf("build id %s builds binary %s, want the same name", m[1], m[3])
		}
		ids = append(ids, m[1])
	}
	for _, s := range record.Services {
		want = append(want, s.Name+" "+s.Package)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("builds of %s mismatch record.Services (-want +got):\n%s", ConfigFile, diff)
	}
	if archive := "ids: [" + strings.Join(ids, ", ") + "]"; !strings.Contains(string(b), archive) {
		t.Errorf("%s: the archive does not list every build: want %q", ConfigFile, archive)
	}
}
