// Package packages writes Cairn's release artifacts for gateways without containers into
// dist/packages (Write, run by the release Step): a tar.gz and a .deb per platform,
// checksums.txt signed with the release key, the public key and CHANGELOG.md, byte for byte
// what goreleaser makes from .goreleaser.yaml.
package packages
