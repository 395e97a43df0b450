// Package release is Cairn's release pipeline: lock check, build, images, steps, swap.
//
// Run does, in order: refuse a dirty tree if asked (Options.RequireClean); check the lock
// (ModeRelease); take the release lock (.dist.lock next to dist/: a second release in the
// same tree waits for the first and says so); build every service for linux/amd64 and
// linux/arm/v7 (package build: the exact command and environment of a release); assemble
// one multi-arch OCI index per service (package images); write, inside a staging directory
// dist.staging-* next to dist/:
//
//	bin/linux_amd64/<svc>, bin/linux_arm_v7/<svc>   the static binaries
//	oci/                                            one OCI layout: every index, named by
//	                                                org.opencontainers.image.ref.name = <svc>
//	archives/<svc>.oci.tar                          oci-archive (the index, both platforms)
//	archives/<svc>_linux_amd64.docker.tar,
//	archives/<svc>_linux_arm_v7.docker.tar          docker-archive (single platform), tagged
//	                                                ghcr.io/cairn-iot/<svc>:<version>
//	release.json                                    the record (package record), canonical JSON
//
// then run the Steps (ModeRelease; signing, attestations and the archives and packages extend the release
// here, registered in release/cmd/cairn-release/steps.go; see Step and Stage), and finally
// swap the staging directory in as dist/ in one renameat2(RENAME_EXCHANGE). A killed release
// leaves the previous dist/ (plus a dist.staging-* directory that the next release removes),
// never a dist/ that looks complete but is not.
//
// Caches, both content-addressed by their inputs and both off in verify's rebuild (so a
// poisoned cache cannot pass verification): compressed layers (images.LayerKey: binary
// SHA-256, file list, epoch, compressor) and linked binaries (build: a key over the
// toolchain, environment, arguments, go.mod/go.sum and the compiled archive of every linked
// package from `go list -export`). A rerun with nothing changed neither links nor compresses.
//
// Every input is a value in Options, resolved once at the edge (release/cmd/cairn-release):
// version, commit and epoch (package source), the toolchain root, the passthrough
// environment. Nothing here reads the clock or the environment.
//
// The release is checked by package release/verify (a clean-room rebuild compared bit for
// bit, then the evidence beside the images), which this package does not import.
//
// Why the pipeline runs as `<pinned go> run ./release/cmd/cairn-release` and not inside the
// mage process: mage is compiled by whatever Go the host has. The assembler's output depends
// on the code linked into it (encoding/json, archive/tar, the gzip compressor), so it too is
// compiled by the pinned toolchain; then "two releases of one commit are identical whatever Go
// version the host has" holds for the images as well as the binaries. go run caches the linked
// executable (Go 1.24+), so this costs nothing on a rerun, and nix runs the same command.
package release
