// Package goreleaser publishes a tagged release's archives, Debian packages and signed
// checksums to its GitHub release with the stock goreleaser (v2.14, pinned in lock/tools.mod)
// on the repository's .goreleaser.yaml: `go run ./release/goreleaser/cmd/cairn-goreleaser
// publish` in CI. A release does not run goreleaser: package release/packages writes the same
// bytes into dist/packages (test/packages compares them on a fixture, with Snapshot).
//
// goreleaser runs with an environment built from nothing (Env): the release build's
// (goenv.Build without a target: CGO_ENABLED=0, GOTOOLCHAIN=local, GOFLAGS=-mod=readonly,
// GOWORK=off, GOENV=off, the leaky ones blanked, the passthrough list), the values the
// config reads (CAIRN_GO, CAIRN_VERSION, CAIRN_PKG_VERSION, CAIRN_COMMIT, SOURCE_DATE_EPOCH,
// CAIRN_MTIME, TZ=UTC) and, for Publish, GITHUB_TOKEN, COSIGN_KEY and COSIGN_PASSWORD.
// goreleaser builds every binary with the pinned toolchain and the exact flags of the release
// build; the binaries are compared with dist/bin by SHA-256 (CompareBinaries) and one
// differing byte is an error. goreleaser adds binaries to an archive in the order their
// builds finish, so it runs with --parallelism 1 and the order is the config's.
//
// Publish signs checksums.txt with the stock cosign CLI (`go tool -modfile=lock/tools.mod
// cosign sign-blob`, the release key, the format package packages writes; the pinned go is
// first on PATH because goreleaser does not template the signing command), writes
// goreleaser's changelog and uploads. `publish -dry-run` does all of it but the upload.
package goreleaser
