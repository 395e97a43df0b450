// Package targets implements Cairn's mage targets. magefile.go is wiring only; each target
// here reads the environment once (this is the edge), turns it into values and calls the
// package that does the work. Files are split by target: lock.go, proto.go, release.go (build,
// images, release, verify), push.go (push, audit), nix.go, bench.go, run.go, test.go,
// certs.go.
package targets
