package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/goreleaser"
	"github.com/cairn-iot/cairn/release/signstep"
)

// steps returns the release steps, run in order after the images are assembled and
// dist/release.json is written, before the staging directory is swapped in as dist/ (see
// release.Step and release.Stage). This is the one place steps are registered: signing and
// attestations (dist/cosign/<svc>, dist/attestations/<svc>) and goreleaser (dist/goreleaser)
// add a line each. getenv is the process environment (COSIGN_KEY, COSIGN_PASSWORD, ...):
// read it here, at the edge, and pass values into the step. cacheDir is the -tool-cache
// directory ("" or "none": no cache); goreleaser's own build is kept in <cacheDir>/tools.
func steps(getenv func(string) string, cacheDir string) ([]release.Step, error) {
	var s []release.Step
	s = append(s, signstep.Step(signstep.KeysFromEnv(getenv)))
	var opts goreleaser.StepOptions
	if cacheDir != "" && cacheDir != "none" {
		opts.ToolCache = filepath.Join(cacheDir, "tools")
	}
	// goreleaser packages the binaries this release built: its go is this program.
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding cairn-release itself (goreleaser's go): %w", err)
	}
	opts.Shim = self
	s = append(s, goreleaser.Step(signstep.KeysFromEnv(getenv), getenv, opts))
	return s, nil
}
