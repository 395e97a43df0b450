package goreleaser

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cairn-iot/cairn/release/build"
)

// PrebuiltEnv names the variable that makes cairn-release goreleaser's go command for one
// snapshot (ServePrebuilt); its value is a Prebuilt in JSON.
const PrebuiltEnv = "CAIRN_PREBUILT"

// Prebuilt hands goreleaser the binaries the release has already built, signed and attested,
// instead of letting it link all twelve again: .goreleaser.yaml's `tool` (CAIRN_GO) is then
// Shim, which serves every `go build` whose command and environment are exactly the release
// build's (build.Args, build.Env) by copying the binary from BinDir, and refuses any other.
// The archives and packages then hold, by construction, the binaries the images and the
// provenance name; a .goreleaser.yaml whose builds drift from the release build fails the
// step with the difference instead of producing other bytes.
type Prebuilt struct {
	// Shim is the program goreleaser runs as its go (cairn-release itself).
	Shim string `json:"-"`
	// BinDir is the release's dist/bin.
	BinDir string `json:"bin_dir"`
	// Version and Commit are the release's -X values.
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Binaries maps each package path to its binary name (release.Services).
	Binaries map[string]string `json:"binaries"`
}

// ServePrebuilt is goreleaser's go command: args are what goreleaser passes (`build <flags>
// -o <out> <package>`), getenv its environment, which carries PrebuiltEnv. It copies the
// release's binary to <out> when the build asked for is the release build of one of
// p.Binaries for one of build.Targets, and fails naming the difference otherwise. It
// returns the exit status.
func ServePrebuilt(args []string, getenv func(string) string, stderr io.Writer) int {
	if err := servePrebuilt(args, getenv); err != nil {
		fmt.Fprintln(stderr, "cairn-release (goreleaser's go):", err)
		return 1
	}
	return 0
}

func servePrebuilt(args []string, getenv func(string) string) error {
	var p Prebuilt
	if err := json.Unmarshal([]byte(getenv(PrebuiltEnv)), &p); err != nil {
		return fmt.Errorf("decoding %s: %w", PrebuiltEnv, err)
	}
	out, pkg, err := prebuiltArgs(args)
	if err != nil {
		return err
	}
	name, ok := p.Binaries[pkg]
	if !ok {
		return fmt.Errorf("goreleaser asked for %s, which the release does not build (it builds %s); keep .goreleaser.yaml's builds to release.Services", pkg, strings.Join(slices.Sorted(maps.Keys(p.Binaries)), ", "))
	}
	if filepath.Base(out) != name {
		return fmt.Errorf("goreleaser asked for %s as %q, the release names it %q; keep each build's binary to the service name", pkg, filepath.Base(out), name)
	}
	if want := build.Args(p.Version, p.Commit, out, pkg); !sameBuild(args, want) {
		return fmt.Errorf("goreleaser's go build differs from the release build:\n  goreleaser: go %s\n  release:    go %s\nmake the flags and ldflags of .goreleaser.yaml the release build's (package release/build)", strings.Join(args, " "), strings.Join(want, " "))
	}
	target, err := prebuiltTarget(getenv)
	if err != nil {
		return err
	}
	src := filepath.Join(p.BinDir, target.Platform.Dir(), name)
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading the release's %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// prebuiltArgs returns the -o value and the package of a `go build` command line.
func prebuiltArgs(args []string) (out, pkg string, err error) {
	if len(args) < 4 || args[0] != "build" || args[len(args)-3] != "-o" {
		return "", "", fmt.Errorf("goreleaser ran go %q, want `go build <flags> -o <out> <package>` (only builds are served during a release)", args)
	}
	return args[len(args)-2], args[len(args)-1], nil
}

// sameBuild compares a goreleaser build command line with the release build's: the same
// flags in the same order, "-ldflags=v" and "-ldflags v" being one.
func sameBuild(got, want []string) bool {
	norm := func(a []string) []string {
		var out []string
		for i := 0; i < len(a); i++ {
			if a[i] == "-ldflags" && i+1 < len(a) {
				out = append(out, "-ldflags="+a[i+1])
				i++
				continue
			}
			out = append(out, a[i])
		}
		return out
	}
	return slices.Equal(norm(got), norm(want))
}

// prebuiltTarget is the build.Targets entry whose environment goreleaser's build has, with
// the release build's other settings (build.Env); anything else is an error naming the
// variable.
func prebuiltTarget(getenv func(string) string) (build.Target, error) {
	for _, t := range build.Targets {
		match := true
		for _, kv := range t.Env {
			k, v, _ := strings.Cut(kv, "=")
			if getenv(k) != v {
				match = false
			}
		}
		if !match {
			continue
		}
		for _, kv := range build.Env(t, nil) {
			k, v, _ := strings.Cut(kv, "=")
			if getenv(k) != v {
				return build.Target{}, fmt.Errorf("goreleaser's build for %s has %s=%q, the release build %s=%q; make .goreleaser.yaml's env the release build's", t.Platform, k, getenv(k), k, v)
			}
		}
		return t, nil
	}
	return build.Target{}, fmt.Errorf("goreleaser's build has GOOS=%q GOARCH=%q GOARM=%q GOAMD64=%q, not a release platform (%d targets in package release/build)", getenv("GOOS"), getenv("GOARCH"), getenv("GOARM"), getenv("GOAMD64"), len(build.Targets))
}
