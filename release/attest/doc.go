// Package attest describes a release's images: an SPDX 2.3 SBOM and a SLSA provenance v1
// statement per image index and per platform image, built from the Go build information
// embedded in the binaries inside the image layers (so they describe what was shipped, not
// what was meant to be), signed into cosign evidence with package sign.
//
// Everything here is deterministic: no wall clock (SPDX created = the release epoch), no
// random ids (documentNamespace is derived from the subject digest), no start or finish
// times in the provenance, JSON written by encoding/json from structs and sorted maps.
package attest
