package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

// RecordFile is the release record's path inside dist/.
const RecordFile = "release.json"

// Record is dist/release.json: the one machine-readable description of a release. Its
// JSON is canonical (struct fields in alphabetical key order, no indentation, one trailing
// newline), so two releases compare byte for byte with cmp. It holds no wall clock.
//
// Steps (signing, attestation, archives and packages) read it and must not change it: it describes
// the reproducible core that `verify` rebuilds and compares.
type Record struct {
	// Commit is the full hash of the source commit.
	Commit string `json:"commit"`
	// Compressor is the layer compressor: module, version (as pinned) and level.
	Compressor Compressor `json:"compressor"`
	// Created is Epoch as RFC 3339 (UTC), the images' created time.
	Created string `json:"created"`
	// Dirty reports that tracked files differed from Commit when the release was built.
	Dirty bool `json:"dirty"`
	// Epoch is the source date epoch in seconds.
	Epoch int64 `json:"epoch"`
	// Images are the images in release order; empty for a binaries-only build.
	Images []ImageRecord `json:"images"`
	// Schema is the record format revision.
	Schema int `json:"schema"`
	// Source is the repository URL written into the images' source annotation.
	Source string `json:"source"`
	// Toolchain is the Go version that built the binaries, e.g. "go1.26.8".
	Toolchain string `json:"toolchain"`
	// Version is the release version, e.g. "v0.1.0" or "v0.1.0-3-gabc-dirty".
	Version string `json:"version"`
}

// Compressor names the layer compressor in the record.
type Compressor struct {
	Level   int    `json:"level"`
	Module  string `json:"module"`
	Version string `json:"version"`
}

// ImageRecord is one service's image.
type ImageRecord struct {
	// Index is the digest of the multi-arch image index ("sha256:...").
	Index string `json:"index"`
	// Name is the service name, the index's ref name in dist/oci.
	Name string `json:"name"`
	// Platforms are the index's images in index order (amd64, arm/v7).
	Platforms []PlatformRecord `json:"platforms"`
	// Service is the service the image was built from (package, ports, data dirs), so the
	// release can be rebuilt from the record alone.
	Service Service `json:"service"`
}

// PlatformRecord is one platform's image of a service.
type PlatformRecord struct {
	// Binary is the service binary of this platform.
	Binary BinaryRecord `json:"binary"`
	// Config is the image config's digest.
	Config string `json:"config"`
	// Layers are the layer digests (compressed blobs), in order.
	Layers []string `json:"layers"`
	// Manifest is the image manifest's digest.
	Manifest string `json:"manifest"`
	// Platform is os/arch[/variant], e.g. "linux/arm/v7".
	Platform string `json:"platform"`
}

// BinaryRecord is a binary in dist/.
type BinaryRecord struct {
	// Path is relative to dist/, e.g. "bin/linux_arm_v7/things".
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string `json:"sha256"`
}

// Marshal returns the canonical JSON of r.
func (r *Record) Marshal() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding release record: %w", err)
	}
	return append(b, '\n'), nil
}

// LoadRecord reads dist/release.json.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading release record: %w", err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRecord decodes a release record strictly: unknown fields, a wrong schema, or digests
// and paths that could not come from a release are refused.
func ParseRecord(b []byte) (*Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding release record: %w (want the release.json that `go tool mage release` writes)", err)
	}
	if r.Schema != recordSchema {
		return nil, fmt.Errorf("release record has schema %d, want %d; rerun `go tool mage release`", r.Schema, recordSchema)
	}
	for _, im := range r.Images {
		if !digestRE.MatchString(im.Index) {
			return nil, fmt.Errorf("release record: image %q index %q: want sha256:<64 hex>", im.Name, im.Index)
		}
		for _, p := range im.Platforms {
			for _, d := range append([]string{p.Manifest, p.Config}, p.Layers...) {
				if !digestRE.MatchString(d) {
					return nil, fmt.Errorf("release record: image %q %s digest %q: want sha256:<64 hex>", im.Name, p.Platform, d)
				}
			}
			if !binPathRE.MatchString(p.Binary.Path) {
				return nil, fmt.Errorf("release record: image %q %s binary path %q: want bin/<platform>/<name>", im.Name, p.Platform, p.Binary.Path)
			}
		}
	}
	return &r, nil
}

var (
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	binPathRE = regexp.MustCompile(`^bin/[a-z0-9_]+/[A-Za-z0-9_.-]+$`)
)

const recordSchema = 1
