// Package goreleaser publishes a tagged release's archives, Debian packages and signed
// checksums to its GitHub release with the stock goreleaser (v2.14, pinned in lock/tools.mod)
// on the repository's .goreleaser.yaml: Publish, which cairn-goreleaser runs in CI. A release
// does not run goreleaser: package release/packages writes the same bytes, which
// test/packages checks against Snapshot.
package goreleaser
