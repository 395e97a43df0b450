// Package packages makes Cairn's plain release artifacts for gateways without containers,
// into dist/packages: a tar.gz per platform (linux/amd64, linux/arm/v7) with every service's
// binary, LICENSE and README.md; a .deb per architecture (amd64, armhf) that installs the
// all-in-one /usr/bin/cairn with a systemd unit; checksums.txt over them, signed with the
// release's cosign key; the public key; and CHANGELOG.md from git.
//
// The files are byte for byte those goreleaser v2.14 (tar.gz) and its nfpm v2.45 (.deb) make
// from .goreleaser.yaml, which CI publishes a tag with (release/goreleaser), so what is
// published is what the release wrote; test/packages runs goreleaser's snapshot on a fixture
// and compares. Writing them here keeps goreleaser, whose first build compiles about 1.7 GB
// of modules, off a release's path. A change to the archives or packages goes into both
// .goreleaser.yaml and spec.go.
//
// Reproducible: every mtime is the release epoch; owners are root:root (uid and gid 0); modes
// are fixed; gzip headers carry no name and no time; entries are in a fixed order (archives:
// LICENSE, README.md, then the binaries in record.Services' order; packages: sorted, every
// parent directory its own entry). Two runs give the same checksums.txt. Each file is
// written with its SHA-256 computed on the way, in a temporary sibling of the output that is
// renamed into place when all are written; a binary that changes while it is read is an
// error.
//
// checksums.txt.sig is an ECDSA signature of the SHA-256 of checksums.txt in ASN.1 DER,
// base64 encoded: what `cosign sign-blob` writes and `cosign verify-blob --key cosign.pub
// --signature checksums.txt.sig --insecure-ignore-tlog checksums.txt` checks. ECDSA signatures
// are randomized, so the signature, unlike checksums.txt, differs from run to run.
//
// # Packages
//
// The .deb depends on adduser. postinst creates the cairn system user and /var/lib/cairn
// (0750 cairn:cairn), enables and starts cairn.service on first install and try-restarts it
// on upgrade. The data directory is not in the package's file list, so upgrades and remove
// keep it; purge deletes it and keeps the user, as Debian recommends. /etc/default/cairn is
// a conffile. The package version is the release version without its "v"; a version with no
// tag, 0.0.0-<commit>, becomes the pre-release 0.0.0~<commit> (DebVersion).
//
// CHANGELOG.md lists the commits since the last tag before HEAD, or all there are (a shallow
// or one-commit clone works), with 12-character hashes so that the text does not depend on
// the clone's abbreviation length.
package packages
