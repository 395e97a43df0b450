//go:build mage

// Cairn's build targets. Wiring only: every target is a line that calls
// github.com/cairn-iot/cairn/release/targets, where the logic lives and is tested.
package main

import (
	"context"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/cairn-iot/cairn/release/targets"
)

// Aliases make the namespace defaults reachable by their short names:
// `go tool mage lock` updates the lock, `go tool mage proto` generates the protobufs.
var Aliases = map[string]any{
	"lock":   Lock.Update,
	"proto":  Proto.Generate,
	"verify": Verify.Release,
}

// Lock holds the targets that maintain lock/, the pinned inputs of a release.
type Lock mg.Namespace

// Update recomputes lock/lock.json from go.mod, go.sum, the tools modfile and the pinned toolchain.
func (Lock) Update(ctx context.Context) error { return targets.LockUpdate(ctx) }

// Check verifies every pin in lock/ against reality and fails on drift; every release runs it first.
func (Lock) Check(ctx context.Context) error { return targets.LockCheck(ctx) }

// Proto holds the protobuf code generation targets.
type Proto mg.Namespace

// Generate regenerates the Go code for proto/**/*.proto without protoc.
func (Proto) Generate(ctx context.Context) error { return targets.ProtoGenerate(ctx) }

// Check regenerates into a temporary directory and fails if the committed code differs.
func (Proto) Check(ctx context.Context) error { return targets.ProtoCheck(ctx) }

// Build builds every service for linux/amd64 and linux/arm/v7 into dist/bin.
func Build(ctx context.Context) error { return targets.Build(ctx) }

// Images builds the binaries and assembles the multi-arch OCI images into dist/oci.
func Images(ctx context.Context) error { return targets.Images(ctx) }

// Release checks the lock, builds, assembles, signs and attests the whole release into dist/.
func Release(ctx context.Context) error { return targets.Release(ctx) }

// Verify holds the reproducibility checks of a release in dist/.
type Verify mg.Namespace

// Release rebuilds the release in a clean room and compares it with dist/ bit for bit.
func (Verify) Release(ctx context.Context) error { return targets.Verify(ctx) }

// Nix rebuilds the release of dist/release.json with `nix build .#release` and compares it with dist/ bit for bit.
func (Verify) Nix(ctx context.Context) error { return targets.VerifyNix(ctx) }

// Push pushes every image of dist/ with its signatures and attestations to REGISTRY/PREFIX.
func Push(ctx context.Context, repository string) error { return targets.Push(ctx, repository) }

// Audit verifies an image's signature and attestations and traces it back to its sources.
func Audit(ctx context.Context, image string) error { return targets.Audit(ctx, image) }

// Run starts the all-in-one cairn on loopback: HTTP on 127.0.0.1:8080, MQTT on 127.0.0.1:1883.
func Run(ctx context.Context) error { return targets.Run(ctx) }

// Bench measures the release pipeline and the platform against their targets into dist/bench/report.{md,json}.
func Bench(ctx context.Context) error { return targets.Bench(ctx) }

// Certs makes development certificates in .cairn/certs.
type Certs mg.Namespace

// Dev makes a development CA (kept once made) and a server certificate for localhost.
func (Certs) Dev() error { return targets.CertsDev(targets.CertsDir, os.Stdout) }

// Thing issues the thing <id> a client certificate from the development CA.
func (Certs) Thing(id string) error { return targets.CertsThing(targets.CertsDir, id, os.Stdout) }

// Test runs the whole test suite, the end-to-end tests included, as CI does.
func Test(ctx context.Context) error { return targets.Test(ctx) }
