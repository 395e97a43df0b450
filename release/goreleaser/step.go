package goreleaser

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/signstep"
)

// Step returns the release step that writes dist/goreleaser: Snapshot of the staged release
// (its dist/bin, version, commit, epoch and pinned toolchain), checksums.txt signed with the
// release key (keys, the same COSIGN_KEY/COSIGN_PASSWORD or development key as the image
// signatures). getenv is the process environment, read only for Passthrough.
//
// .goreleaser.yaml describes Cairn's own services (release.Services). A release of other
// services (a fixture module, `cairn-release -services`) has no archives or packages to make:
// the step says so in the log and writes nothing.
func Step(keys signstep.Keys, getenv func(string) string, opts StepOptions) release.Step {
	return func(ctx context.Context, s *release.Stage) error {
		logf := func(format string, args ...any) { fmt.Fprintf(s.Log, format+"\n", args...) }
		if !sameServices(s.Services, release.Services) {
			logf("goreleaser: skipped: the services released are not release.Services, which %s packages", ConfigFile)
			return nil
		}
		key, err := keys.Load(s.ModuleDir, logf)
		if err != nil {
			return fmt.Errorf("goreleaser: %w", err)
		}
		c := Config{
			ModuleDir: s.ModuleDir,
			GOROOT:    s.GOROOT,
			Version:   s.Version,
			Commit:    s.Commit,
			Epoch:     s.Epoch,
			BinDir:    filepath.Join(s.Dir, "bin"),
			Out:       filepath.Join(s.Dir, "goreleaser"),
			Signer:    key,
			LookupEnv: func(k string) (string, bool) {
				v := getenv(k)
				return v, v != ""
			},
		}
		if opts.ToolCache != "" {
			bin, err := Tool(ctx, s.GOROOT, s.ModuleDir, opts.ToolCache, build.PassthroughEnv(c.LookupEnv), logf)
			if err != nil {
				return err
			}
			c.Tool = []string{bin}
		}
		if opts.Shim != "" {
			c.Prebuilt = &Prebuilt{Shim: opts.Shim, BinDir: c.BinDir, Version: s.Version, Commit: s.Commit, Binaries: map[string]string{}}
			for _, svc := range s.Services {
				c.Prebuilt.Binaries[svc.Package] = svc.Name
			}
		}
		logf("goreleaser: snapshot of %s into dist/goreleaser (archives, .debs, signed checksums)", s.Version)
		arts, err := Snapshot(ctx, c)
		if err != nil {
			return err
		}
		for _, a := range arts {
			logf("goreleaser: %s sha256:%s", a.Name, a.SHA256)
		}
		return nil
	}
}

// StepOptions are the optional parts of Step.
type StepOptions struct {
	// ToolCache, if set, is the directory of Tool's content-addressed goreleaser builds;
	// empty runs goreleaser with `go tool -modfile=lock/tools.mod` (built in GOCACHE).
	ToolCache string
	// Shim, if set, is a program that runs ServePrebuilt when PrebuiltEnv is set
	// (cairn-release itself): goreleaser then packages the release's binaries (Prebuilt).
	// Empty lets goreleaser build its own, compared with dist/bin afterwards.
	Shim string
}

// sameServices reports whether a and b name the same binaries built from the same packages,
// in the same order.
func sameServices(a, b []release.Service) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Package != b[i].Package {
			return false
		}
	}
	return true
}
