// Package verify checks a release in dist/ against its sources (Run, `cairn-release verify`):
// a clean-room rebuild compared bit for bit (CleanRoom), then the evidence a rebuild cannot
// reproduce (Evidence). It sits beside the pipeline: package release imports neither it, the
// audit nor a registry client, and it implements none of cosign's formats (package sign does).
package verify
