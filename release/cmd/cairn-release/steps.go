package main

import (
	"github.com/cairn-iot/cairn/release/packages"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/signstep"
)

// steps returns the release steps, run in order after the images are assembled and
// dist/release.json is written, before the staging directory is swapped in as dist/ (see
// record.Step and record.Stage). This is the one place steps are registered: signing and
// attestations (dist/cosign/<svc>, dist/attestations/<svc>) and the archives and packages
// (dist/packages) add a line each. getenv is the process environment (COSIGN_KEY,
// COSIGN_PASSWORD, ...): read it here, at the edge, and pass values into the step.
func steps(getenv func(string) string) ([]record.Step, error) {
	keys := signstep.KeysFromEnv(getenv)
	return []record.Step{signstep.Step(keys), packages.Step(keys, getenv)}, nil
}
