// Package images assembles Cairn's container images: one static binary per platform, an
// image Spec and an epoch in, one multi-arch OCI image index out (Index). It is pure (no
// disk, network, signing or clock), so the same inputs give the same digest on every machine.
package images
