package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

// File is the release record's path inside dist/.
const File = "release.json"

// Release is dist/release.json: the one machine-readable description of a release. Its
// JSON is canonical (struct fields in alphabetical key order, no indentation, one trailing
// newline), so two releases compare byte for byte with cmp. It holds no wall clock.
//
// Steps (signing, attestation, archives and packages) read it and must not change it: it describes
// the reproducible core that `verify` rebuilds and compares.
type Release struct {
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
	Images []Image `json:"images"`
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

// Image is one service's image.
type Image struct {
	// Index is the digest of the multi-arch image index ("sha256:...").
	Index string `json:"index"`
	// Name is the service name, the index's ref name in dist/oci.
	Name string `json:"name"`
	// Platforms are the index's images in index order (amd64, arm/v7).
	Platforms []Platform `json:"platforms"`
	// Service is the service the image was built from (package, ports, data dirs), so the
	// release can be rebuilt from the record alone.
	Service Service `json:"service"`
}

// Platform is one platform's image of a service.
type Platform struct {
	// Binary is the service binary of this platform.
	Binary Binary `json:"binary"`
	// Config is the image config's digest.
	Config string `json:"config"`
	// Layers are the layer digests (compressed blobs), in order.
	Layers []string `json:"layers"`
	// Manifest is the image manifest's digest.
	Manifest string `json:"manifest"`
	// Platform is os/arch[/variant], e.g. "linux/arm/v7".
	Platform string `json:"platform"`
}

// Binary is a binary in dist/.
type Binary struct {
	// Path is relative to dist/, e.g. "bin/linux_arm_v7/things".
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string `json:"sha256"`
}

// Marshal returns the canonical JSON of r.
func (r *Release) Marshal() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding release record: %w", err)
	}
	return append(b, '\n'), nil
}

// Load reads dist/release.json.
func Load(path string) (*Release, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading release record: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Parse decodes a release record strictly: unknown fields, a wrong schema, or digests
// and paths that could not come from a release are refused.
func Parse(b []byte) (*Release, error) {
	var r Release
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding release record: %w (want the release.json that `go tool mage release` writes)", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("release record has schema %d, want %d; rerun `go tool mage release`", r.Schema, Schema)
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

// Schema is the record format revision this package writes and reads.
const Schema = 1

// The names below dist/ that more than one stage of the release knows.
const (
	// InputsFile is the fingerprint of a release, written last into the staging directory so it
	// exists only in a complete dist/: the digest of everything the release read (Inputs) and the
	// SHA-256 of every file the release wrote. A release whose inputs have the same digest, with a
	// dist/ whose files all still hash to what it lists, has nothing to do (UpToDate). Nothing in
	// it is trusted by mtime: every input and every output is read and hashed each time.
	InputsFile = "inputs.json"
	// BenchDir is dist/bench, where `go tool mage bench` writes its report. A release keeps it.
	BenchDir = "bench"
)

// DefaultSource is the repository URL written into the images' source annotation.
const DefaultSource = "https://github.com/cairn-iot/cairn"

// DefaultRepository prefixes docker-archive tags and is where the images are pushed.
const DefaultRepository = "ghcr.io/cairn-iot"
