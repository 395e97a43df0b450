// Package goreleaser makes Cairn's plain release artifacts for gateways without containers:
// a tar.gz per platform (linux/amd64, linux/arm/v7) with every service's binary, README.md and
// LICENSE; a .deb per architecture (amd64, armhf) that installs the all-in-one /usr/bin/cairn
// with a systemd unit, a cairn system user and /var/lib/cairn; checksums.txt over all of them,
// signed with the release's cosign key; and CHANGELOG.md from git. It runs the stock goreleaser
// (v2.14, pinned in lock/tools.mod) on the repository's .goreleaser.yaml.
//
// # What is guaranteed
//
// Snapshot (a step of `go tool mage release`, writing dist/goreleaser/) is offline and
// reproducible:
//
//   - goreleaser runs with an environment built from nothing (Env): the release build's
//     variables (CGO_ENABLED=0, GOTOOLCHAIN=local, GOFLAGS=-mod=readonly, GOWORK=off, the leaky
//     ones blanked), the short pass-through list, and the values the config reads (CAIRN_GO,
//     CAIRN_VERSION, CAIRN_COMMIT, SOURCE_DATE_EPOCH, CAIRN_MTIME, TZ=UTC).
//   - goreleaser builds every binary itself with the pinned toolchain and the exact flags of
//     the release build, and Snapshot compares each with dist/bin by SHA-256: one differing
//     byte fails the release. This is the strong form of "the binaries inside are dist/bin":
//     no prebuilt binary is copied in, so the archives prove the build reproduces.
//   - Every mtime in the archives, the packages and on the built binaries is the release
//     epoch; owners are root:root (uid/gid 0, and the names "root", which goreleaser always
//     writes), modes fixed; gzip headers carry no time and no name. goreleaser does not sort
//     tar entries: it writes the files of the config, then the binaries in the order their
//     builds finish, so goreleaser runs with --parallelism 1 and the order is the config's
//     (LICENSE, README.md, cairn, users, things, http, mqtt, messages, bootstrap). Two runs
//     give the same checksums.txt.
//   - Only what is reproducible is kept: the archives, the packages, checksums.txt, its
//     signature, the public key and CHANGELOG.md. goreleaser's metadata.json (wall-clock date),
//     artifacts.json and config.yaml (temporary paths) and its build directories are dropped.
//   - The output appears at once: everything is written to a temporary sibling directory that
//     is renamed into place only when complete.
//
// checksums.txt.sig is an ECDSA signature of the SHA-256 of checksums.txt in ASN.1 DER, base64
// encoded: the format `cosign sign-blob` writes and `cosign verify-blob --key cosign.pub
// --signature checksums.txt.sig --insecure-ignore-tlog checksums.txt` checks. ECDSA signatures
// are randomized, so the signature, unlike checksums.txt, differs from run to run; it lives
// beside what it signs and is hashed by nothing.
//
// Publish (CI, for a tag: `go run ./release/goreleaser/cmd/cairn-goreleaser publish`) runs
// goreleaser in release mode with the same environment plus GITHUB_TOKEN, COSIGN_KEY and
// COSIGN_PASSWORD: it builds the same bytes (the same checksums.txt as the snapshot of the
// tag), signs checksums.txt with the stock cosign CLI (`go tool -modfile=lock/tools.mod cosign
// sign-blob`, same key, same format; the pinned go is first on PATH because goreleaser does not
// template the signing command), writes goreleaser's changelog and uploads to the GitHub
// release. `publish -dry-run` does all of it but the upload.
//
// README.md is named by a glob in .goreleaser.yaml: a checkout without it releases archives
// without it (goreleaser warns) instead of failing.
//
// # Packages
//
// The .deb (nfpm) depends on adduser. postinst creates the cairn system user and
// /var/lib/cairn (0750 cairn:cairn), enables and starts cairn.service on first install and
// try-restarts it on upgrade. The data directory is not in the package's file list, so
// upgrades and remove keep it; purge deletes it (purge means "and my data") and keeps the
// user, as Debian recommends. /etc/default/cairn is a conffile.
//
// A snapshot has no changelog from goreleaser (it skips it for snapshots), so Snapshot writes
// CHANGELOG.md itself from `git log`: the commits since the last tag before HEAD, or all
// commits there are (a shallow or one-commit clone works), with 12-character hashes so the
// text does not depend on the clone's abbreviation length.
package goreleaser
