package goenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/test/testenv"
)

func TestBuildFromNothing(t *testing.T) {
	t.Setenv("GOEXPERIMENT", "leak")
	t.Setenv("CGO_ENABLED", "1")
	pass := []string{"PATH=/bin", "HOME=/h", "GOCACHE=/c", "GOPATH=/gp", "SECRET=x", "GOFLAGS=-mod=mod", "GOOS=windows"}
	got := Build([]string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}, pass)
	want := []string{
		"GOOS=linux", "GOARCH=arm", "GOARM=7",
		"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly", "GOEXPERIMENT=", "GODEBUG=",
		"GOFIPS140=", "CC=", "CXX=", "GOWORK=off", "GOENV=off",
		"PATH=/bin", "HOME=/h", "GOCACHE=/c", "GOPATH=/gp",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build(arm/v7) (-want +got):\n%s", diff)
	}
}

func TestPick(t *testing.T) {
	env := map[string]string{"PATH": "/bin", "GOPROXY": "off", "GOPATH": "/gp", "AWS_SECRET": "x", "GOFLAGS": "-race"}
	got := Pick(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if diff := cmp.Diff([]string{"PATH=/bin", "GOPATH=/gp", "GOPROXY=off"}, got); diff != "" {
		t.Errorf("Pick (-want +got):\n%s", diff)
	}
}

func TestAssembler(t *testing.T) {
	in := []string{"PATH=/bin", "GOOS=windows", "GOFLAGS=-mod=mod", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5",
		"GOTOOLCHAIN=auto", "GOROOT=/x", "GOAMD64=v3", "GOENV=/e", "GOFIPS140=latest"}
	for _, toolchain := range []string{"local", "go1.26.8"} {
		got := Assembler(in, toolchain)
		want := []string{"PATH=/bin", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5",
			"CGO_ENABLED=0", "GOTOOLCHAIN=" + toolchain, "GOFLAGS=-mod=readonly -trimpath", "GOWORK=off", "GOENV=off",
			"GOEXPERIMENT=", "GODEBUG=", "GOFIPS140="}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Assembler(%s) (-want +got):\n%s", toolchain, diff)
		}
	}
}

func TestTool(t *testing.T) {
	got := Tool("-mod=mod", []string{"GOMODCACHE=/m", "GOFLAGS=-race", "GOPROXY=off", "CGO_ENABLED=1"})
	want := []string{"GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off", "GOFLAGS=-mod=mod", "GOMODCACHE=/m", "GOPROXY=off"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tool (-want +got):\n%s", diff)
	}
}

func TestDescribeDropsPassthrough(t *testing.T) {
	got := Describe(Build([]string{"GOOS=linux"}, []string{"HOME=/h", "GOPROXY=file:///x"}))
	want := "GOOS=linux CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOEXPERIMENT= GODEBUG= GOFIPS140= CC= CXX= GOWORK=off GOENV=off"
	if got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestCompiled(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "-buildmode", Value: "exe"}, {Key: "-trimpath", Value: "true"},
		{Key: "CGO_ENABLED", Value: "1"}, {Key: "CGO_CFLAGS", Value: "-I/home/me"},
		{Key: "GOARCH", Value: "amd64"}, {Key: "GOOS", Value: "linux"}, {Key: "GOAMD64", Value: "v1"},
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"},
	}}
	want := "go1.26.8 -buildmode=exe -trimpath=true CGO_ENABLED=1 GOARCH=amd64 GOOS=linux GOAMD64=v1"
	if got := Compiled(bi); got != want {
		t.Errorf("Compiled = %q, want %q", got, want)
	}
}

// TestEnvFileIgnored runs `go env` in Build's, Assembler's and Tool's environments with a
// go env file in HOME that sets GOEXPERIMENT and GOAMD64: GOENV=off must keep both out.
// Without it (the control) the file's values win, GOEXPERIMENT= blanked or not.
func TestEnvFileIgnored(t *testing.T) {
	goBin := testenv.LookPath(t, "go", "golang-go")
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".config", "go"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "go", "env"), []byte("GOEXPERIMENT=jsonv2\nGOAMD64=v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pass := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GOCACHE=" + t.TempDir()}
	goEnv := func(env []string) string {
		t.Helper()
		cmd := exec.Command(goBin, "env", "GOEXPERIMENT", "GOAMD64")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go env: %v\n%s", err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	withoutGOENV := func(env []string) []string {
		return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return kv == "GOENV=off" })
	}
	for name, env := range map[string][]string{
		"Build":     Build(nil, pass),
		"Assembler": Assembler(pass, "local"),
		"Tool":      Tool("", pass),
	} {
		if got := goEnv(env); got != "v1" {
			t.Errorf("%s: go env GOEXPERIMENT GOAMD64 = %q, want the defaults (\"\" and v1)", name, got)
		}
		if got := goEnv(withoutGOENV(env)); got != "jsonv2 v3" {
			t.Errorf("%s without GOENV=off: go env GOEXPERIMENT GOAMD64 = %q, want the file's values", name, got)
		}
	}
}
