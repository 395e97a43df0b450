// Package sign implements the cosign formats Cairn writes and reads, without importing cosign:
// encrypted ECDSA P-256 key pairs, simple-signing signatures in the sha256-<hex>.sig tag scheme,
// DSSE-enveloped in-toto attestations in sha256-<hex>.att, and cosign's on-disk OCI layout.
//
// Signatures are deterministic: ECDSA with a nil random source signs per RFC 6979, and every
// payload is built from its subject alone, so re-signing the same release with the same key
// gives the same bytes. The formats are proven against the stock cosign CLI in the tests.
package sign
