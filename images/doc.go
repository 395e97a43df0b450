// Package images assembles Cairn's container images: (binaries, image spec, epoch) -> one
// multi-arch OCI image index. It is a pure transformation: no disk, no network, no signing,
// no clock. The same inputs give the same index digest on every machine.
//
// What an image is, exactly:
//
//   - FROM scratch. One layer per platform holding the static binary at
//     /usr/local/bin/<name> (mode 0755, owner 0:0) and, for services that keep state, data
//     directories owned by the run-time user (65532:65532, mode 0750). Every parent
//     directory is listed as its own entry (mode 0755, owner 0:0).
//   - The layer tar is USTAR (not PAX, not GNU): the paths are short, and USTAR has no
//     place for atime/ctime or extended records that could leak build-host state. Entries
//     are sorted by name, uid/gid fixed, user and group names empty, mtime = the epoch.
//   - The tar is gzip-compressed by github.com/klauspost/compress/gzip (the version pinned
//     in go.mod and named in the lock) at the level given by the caller (the lock's level,
//     6), with an empty gzip header (no name, no mtime).
//   - The config: os, architecture and variant from one Platform value (the same value
//     fills the index entry), created = the epoch (RFC 3339, UTC; never the zero time),
//     User "65532:65532", Entrypoint [/usr/local/bin/<name>], ExposedPorts, one history
//     entry dated at the epoch.
//   - OCI media types everywhere (index, manifest, config, gzip layer). The manifests and
//     the index carry the annotations org.opencontainers.image.{source,revision,version,
//     created}.
//   - Index entries in the order of the binaries given (the release passes amd64, then
//     arm/v7).
//
// JSON is written by encoding/json from structs, whose field order is fixed and whose map
// keys are sorted, so the bytes are canonical.
//
// Compressing a 10 MB binary takes about a second; a Cache (content-addressed by the binary's
// SHA-256, the layer's spec, the epoch and the compressor) lets a rerun with nothing changed
// skip it. The cache is an interface so this package stays free of disk I/O.
package images
