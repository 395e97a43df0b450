// Package verify checks a release in dist/ against its sources: `cairn-release verify`
// (Run), which `go tool mage verify` runs.
//
// First the reproducible core. The module's input files (source.Files) are copied into a
// clean room, where cairn-release rebuilds the release recorded in dist/release.json
// (SelfRebuild: -mode images, a fresh HOME and GOCACHE, umask 077, no cache, no lock check,
// TZ=Pacific/Chatham, another locale and Noise: variables such as GOFLAGS, GOEXPERIMENT,
// CGO_ENABLED, CC and SOURCE_DATE_EPOCH that must not leak into a build). Compare then
// compares bin/, oci/, archives/ and release.json (Compared) bit for bit and names each
// difference by image, platform and layer, opening a differing layer to name the files
// inside it. The module cache is shared with the host (go.sum checks it). Nothing is
// tolerated.
//
// Then what a rebuild cannot reproduce (Evidence): the signatures are randomised ECDSA, so
// dist/cosign/<svc> is audited in-process with package audit and the release's public key
// (PublicKey: COSIGN_PUBLIC_KEY, else the public half of COSIGN_KEY, else the development
// key): signatures, SBOMs and provenance of the index and of each platform manifest, layers
// and binaries against the documents, in both formats (legacy tags and Sigstore bundles).
// The signed index must be the one in release.json and in dist/oci, and every file of
// dist/attestations/<svc> exactly the indented JSON of a payload of the layout, and every
// payload must have its file. An unsigned dist/ (mode images) gives one skipped check.
//
// With a verifier's key, each image rebuilt bit for bit gets a signed rebuild verdict
// (package vsa). The report (record.Report) is text, PASS/FAIL/SKIP lines, and JSON.
//
// This package sits beside the pipeline, not in it: package release never imports it, the
// audit or a registry client, and this package implements none of cosign's formats (package
// sign does; the stock CLIs prove them).
package verify
