package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBuildCallsGoExactly(t *testing.T) {
	out := t.TempDir()
	type call struct {
		Dir, GoBin string
		Args, Env  []string
	}
	var mu sync.Mutex // the targets build concurrently
	var calls []call
	fake := func(ctx context.Context, dir, goBin string, args, env []string) error {
		mu.Lock()
		calls = append(calls, call{dir, goBin, args, env})
		mu.Unlock()
		o := args[len(args)-2]
		return os.WriteFile(o, []byte("bin:"+o), 0o755)
	}
	bins, err := Build(context.Background(), Options{
		GOROOT: "/pinned", ModuleDir: "/mod", OutDir: out, Version: "v1.2.3", Commit: "abc",
		Packages: []Package{{"things", "./platform/cmd/things"}, {"users", "./platform/cmd/users"}},
		Run:      fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4 || len(bins) != 4 {
		t.Fatalf("Build made %d calls and %d binaries, want 4 and 4", len(calls), len(bins))
	}
	wantArgs := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags",
		"-s -w -buildid= -X github.com/cairn-iot/cairn/platform/version.Version=v1.2.3 -X github.com/cairn-iot/cairn/platform/version.Commit=abc",
		"-o", filepath.Join(out, "linux_arm_v7", "users"), "./platform/cmd/users"}
	// Each target builds its packages in order; the targets run side by side, so the arm
	// users build is the last arm call, not necessarily the last call.
	perTarget := map[string][]string{}
	var last call
	for _, c := range calls {
		o := c.Args[len(c.Args)-2]
		dir := filepath.Base(filepath.Dir(o))
		perTarget[dir] = append(perTarget[dir], filepath.Base(o))
		if dir == "linux_arm_v7" {
			last = c
		}
	}
	for _, dir := range []string{"linux_amd64", "linux_arm_v7"} {
		if diff := cmp.Diff([]string{"things", "users"}, perTarget[dir]); diff != "" {
			t.Errorf("%s build order (-want +got):\n%s", dir, diff)
		}
	}
	if diff := cmp.Diff(wantArgs, last.Args); diff != "" {
		t.Errorf("go args (-want +got):\n%s", diff)
	}
	if last.GoBin != "/pinned/bin/go" || last.Dir != "/mod" {
		t.Errorf("ran %s in %s, want /pinned/bin/go in /mod", last.GoBin, last.Dir)
	}
	if !strings.Contains(strings.Join(last.Env, " "), "GOARM=7") {
		t.Errorf("arm build env %v lacks GOARM=7", last.Env)
	}
	wantOrder := []string{"linux/amd64 things", "linux/amd64 users", "linux/arm/v7 things", "linux/arm/v7 users"}
	var gotOrder []string
	for _, b := range bins {
		gotOrder = append(gotOrder, b.Platform.String()+" "+b.Name)
	}
	if diff := cmp.Diff(wantOrder, gotOrder); diff != "" {
		t.Errorf("binary order (-want +got):\n%s", diff)
	}
}

func TestBuildRejectsQuotesInVersion(t *testing.T) {
	_, err := Build(context.Background(), Options{GOROOT: "/g", Version: "v1 -X evil", Commit: "c", OutDir: t.TempDir()})
	if err == nil {
		t.Error("Build(version with a space) error = nil, want an error")
	}
}

func TestCacheSkipsUnchangedLinks(t *testing.T) {
	goroot := t.TempDir()
	if err := os.WriteFile(filepath.Join(goroot, "VERSION"), []byte("go1.26.8\ntime x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module m\n"), 0o644)
	depExport := "/cache/aa/111-d"
	list := func(ctx context.Context, dir, goBin string, args, env []string) ([]byte, error) {
		if args[1] == "-trimpath" { // import paths of the arguments
			return []byte("m/cmd/a\n"), nil
		}
		return []byte("m/dep\t" + depExport + "\t\nm/cmd/a\t/cache/bb/222-d\tm/dep\n"), nil
	}
	builds := 0
	fake := func(ctx context.Context, dir, goBin string, args, env []string) error {
		builds++
		return os.WriteFile(args[len(args)-2], []byte("linked"), 0o755)
	}
	cache := DirCache{Dir: t.TempDir()}
	build := func() []Binary {
		bins, err := Build(context.Background(), Options{
			GOROOT: goroot, ModuleDir: mod, OutDir: t.TempDir(), Version: "v1", Commit: "c",
			Packages: []Package{{"a", "./cmd/a"}}, Targets: Targets[:1], Run: fake, Cache: cache, List: list,
		})
		if err != nil {
			t.Fatal(err)
		}
		return bins
	}
	first := build()
	second := build()
	if builds != 1 {
		t.Errorf("two builds with nothing changed linked %d times, want 1", builds)
	}
	if first[0].SHA256 != second[0].SHA256 {
		t.Errorf("cached binary sha256 = %s, want %s", second[0].SHA256, first[0].SHA256)
	}
	b, err := os.ReadFile(second[0].Path)
	if err != nil || string(b) != "linked" {
		t.Errorf("cached binary = %q, %v, want the linked bytes", b, err)
	}
	depExport = "/cache/aa/333-d" // a dependency's compiled archive changed
	build()
	if builds != 2 {
		t.Errorf("after a dependency changed, links = %d, want 2", builds)
	}
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module m\n\nrequire x v1\n"), 0o644)
	build()
	if builds != 3 {
		t.Errorf("after go.mod changed, links = %d, want 3", builds)
	}
}

// Build tells Logf of every binary as it is done, counted across the targets.
func TestBuildReportsProgress(t *testing.T) {
	fake := func(ctx context.Context, dir, goBin string, args, env []string) error {
		return os.WriteFile(args[len(args)-2], []byte("bin"), 0o755)
	}
	var lines []string // Build serializes its Logf calls
	_, err := Build(context.Background(), Options{
		GOROOT: "/pinned", ModuleDir: "/mod", OutDir: t.TempDir(), Version: "v1", Commit: "abc",
		Packages: []Package{{"things", "./platform/cmd/things"}, {"users", "./platform/cmd/users"}},
		Run:      fake, Logf: func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 {
		t.Fatalf("Build logged %q, want 4 lines", lines)
	}
	re := regexp.MustCompile(`^built (things|users) for linux/(amd64|arm/v7) \((\d) of 4, \d+\.\ds\)$`)
	for i, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil || m[3] != strconv.Itoa(i+1) {
			t.Errorf("line %d = %q, want %q with count %d", i, l, re, i+1)
		}
	}
}
