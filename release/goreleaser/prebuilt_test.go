package goreleaser

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/release/build"
)

func TestServePrebuilt(t *testing.T) {
	bin := t.TempDir()
	for _, tg := range build.Targets {
		d := filepath.Join(bin, tg.Platform.Dir())
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "cairn"), []byte("cairn for "+tg.Platform.Dir()), 0o755)
	}
	p := Prebuilt{BinDir: bin, Version: "v1.2.3", Commit: "abc", Binaries: map[string]string{"./platform/cmd/cairn": "cairn"}}
	pj, _ := json.Marshal(p)
	out := filepath.Join(t.TempDir(), "cairn_linux_arm_7", "cairn")
	ldflags := "-ldflags=-s -w -buildid= -X " + build.VersionPackage + ".Version=v1.2.3 -X " + build.VersionPackage + ".Commit=abc"
	goreleaserArgs := []string{"build", "-trimpath", "-buildvcs=false", ldflags, "-o", out, "./platform/cmd/cairn"}
	env := func(over ...string) func(string) string {
		m := map[string]string{PrebuiltEnv: string(pj)}
		for _, kv := range build.Env(build.Targets[1], nil) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		for _, kv := range over {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return func(k string) string { return m[k] }
	}
	var stderr bytes.Buffer
	if code := ServePrebuilt(goreleaserArgs, env(), &stderr); code != 0 {
		t.Fatalf("ServePrebuilt(the release build) = %d: %s", code, stderr.String())
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "cairn for linux_arm_v7" {
		t.Errorf("served %q, %v; want the release's linux_arm_v7 binary", b, err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"other ldflags", []string{"build", "-trimpath", "-buildvcs=false", strings.Replace(ldflags, "v1.2.3", "v9", 1), "-o", out, "./platform/cmd/cairn"}, env(), "differs from the release build"},
		{"no -trimpath", []string{"build", "-buildvcs=false", ldflags, "-o", out, "./platform/cmd/cairn"}, env(), "differs from the release build"},
		{"other package", []string{"build", "-trimpath", "-buildvcs=false", ldflags, "-o", out, "./platform/cmd/users"}, env(), "which the release does not build"},
		{"other name", []string{"build", "-trimpath", "-buildvcs=false", ldflags, "-o", filepath.Join(filepath.Dir(out), "x"), "./platform/cmd/cairn"}, env(), `the release names it "cairn"`},
		{"cgo", goreleaserArgs, env("CGO_ENABLED=1"), `CGO_ENABLED="1"`},
		{"armv6", goreleaserArgs, env("GOARM=6"), "not a release platform"},
		{"not a build", []string{"env", "GOCACHE"}, env(), "only builds are served"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := ServePrebuilt(tc.args, tc.env, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("ServePrebuilt = %d, %q; want a failure containing %q", code, stderr.String(), tc.want)
			}
		})
	}
}
