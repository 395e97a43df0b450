package packages

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/signstep"
)

// Dir is the directory of dist/ that Step writes.
const Dir = "packages"

// Step returns the release step that writes dist/packages from the staged release (its
// dist/bin, version and epoch), checksums.txt signed with the release key (keys: the same
// COSIGN_KEY/COSIGN_PASSWORD or development key as the image signatures). getenv is the
// process environment: git, for the changelog, runs with its PATH and HOME only.
//
// The packages hold Cairn's own services (record.Services). A release of other services (a
// fixture module, `cairn-release -services`) has none to make: the step says so in the log
// and writes nothing.
func Step(keys signstep.Keys, getenv func(string) string) record.Step {
	return func(ctx context.Context, s *record.Stage) error {
		logf := func(format string, args ...any) { fmt.Fprintf(s.Log, format+"\n", args...) }
		if !sameServices(s.Services, record.Services) {
			logf("packages: skipped: the services released are not record.Services, which the archives and .debs hold")
			return nil
		}
		key, err := keys.Load(s.ModuleDir, logf)
		if err != nil {
			return fmt.Errorf("packages: %w", err)
		}
		names := make([]string, len(s.Services))
		for i, svc := range s.Services {
			names[i] = svc.Name
		}
		logf("packages: archives, .debs and signed checksums of %s into dist/%s", s.Version, Dir)
		arts, err := Write(ctx, Config{
			ModuleDir: s.ModuleDir, BinDir: filepath.Join(s.Dir, "bin"), Binaries: names,
			Version: s.Version, Epoch: s.Epoch, Out: filepath.Join(s.Dir, Dir), Signer: key,
			GitEnv: []string{"PATH=" + getenv("PATH"), "HOME=" + getenv("HOME"), "TZ=UTC"},
			Logf:   logf,
		})
		if err != nil {
			return err
		}
		for _, a := range arts {
			logf("packages: %s sha256:%s", a.Name, a.SHA256)
		}
		return nil
	}
}

// sameServices reports whether a and b name the same binaries built from the same packages,
// in the same order.
func sameServices(a, b []record.Service) bool {
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
