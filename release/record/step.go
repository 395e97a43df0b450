package record

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/cairn-iot/cairn/lock"
)

// Step is an extension of the release: it runs after the images are assembled and the
// record is written, before the staging directory is swapped in as dist/. It adds its own
// files below s.Dir (dist/cosign/<svc>, dist/attestations/<svc>, dist/packages, ...) and
// must not change what is already there: verify compares bin/, oci/, archives/ and
// release.json with a rebuild that runs no steps. A step that fails fails the release, and
// dist/ stays as it was. Steps are registered in release/cmd/cairn-release/steps.go.
type Step func(ctx context.Context, s *Stage) error

// Stage is what a Step sees: the release being staged, everything resolved.
type Stage struct {
	// Dir is the staging directory that becomes dist/ (write below it, never to dist/).
	Dir string
	// Record is the release record, already written to Dir/release.json. Read only.
	Record *Release
	// Indexes are the assembled image indexes by service name (the ones in Dir/oci).
	Indexes map[string]v1.ImageIndex
	// ModuleDir is the module being released.
	ModuleDir string
	// Lock is the lock (nil only for a fixture module without lock/lock.json).
	Lock *lock.Lock
	// GOROOT is the pinned toolchain's root; GOROOT/bin/go runs go1.26.8.
	GOROOT string
	// Epoch is the one source date epoch (UTC). Anything written uses it, never time.Now.
	Epoch time.Time
	// Version and Commit identify the sources.
	Version, Commit string
	// Services are the released services, in release order.
	Services []Service
	// Log receives progress lines.
	Log io.Writer
}
