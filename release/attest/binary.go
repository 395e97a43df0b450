package attest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxLayer bounds what is read of one layer (compressed or not) from outside.
const maxLayer = 1 << 30

// Binary is a Go executable found in an image.
type Binary struct {
	Platform string // os/arch[/variant] of the image
	Path     string // absolute path inside the image
	SHA256   string // hex digest of the file
	Info     *debug.BuildInfo
}

// IntegrityError reports a layer whose bytes do not match its digest.
type IntegrityError struct {
	Layer    v1.Hash
	Expected string
	Found    string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("layer %s: expected %s, found %s; the layer was altered after it was signed", e.Layer, e.Expected, e.Found)
}

// ReadBinaries opens every layer of img, checks its digest and diff id, and returns the Go
// executables in it with their embedded build information, sorted by path. Later layers
// override earlier ones.
func ReadBinaries(img v1.Image) ([]Binary, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	platform := cf.Platform().String()
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("reading layers: %d layers but %d diff ids in the config", len(layers), len(cf.RootFS.DiffIDs))
	}
	found := map[string]Binary{}
	for i, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("reading layer: %w", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", digest, err)
		}
		blob, err := io.ReadAll(io.LimitReader(rc, maxLayer))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", digest, err)
		}
		if got := sha256.Sum256(blob); "sha256:"+hex.EncodeToString(got[:]) != digest.String() {
			return nil, &IntegrityError{Layer: digest, Expected: "digest " + digest.String(), Found: "sha256:" + hex.EncodeToString(got[:])}
		}
		tarData := blob
		if bytes.HasPrefix(blob, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", digest, err)
			}
			tarData, err = io.ReadAll(io.LimitReader(zr, maxLayer))
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", digest, err)
			}
		}
		if got := sha256.Sum256(tarData); "sha256:"+hex.EncodeToString(got[:]) != cf.RootFS.DiffIDs[i].String() {
			return nil, &IntegrityError{Layer: digest, Expected: "diff id " + cf.RootFS.DiffIDs[i].String(), Found: "sha256:" + hex.EncodeToString(got[:])}
		}
		tr := tar.NewReader(bytes.NewReader(tarData))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", digest, err)
			}
			name := path.Clean("/" + h.Name)
			delete(found, name)
			if h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s in layer %s: %w", name, digest, err)
			}
			if !bytes.HasPrefix(data, []byte("\x7fELF")) {
				continue
			}
			info, err := buildinfo.Read(bytes.NewReader(data))
			if err != nil {
				continue // an executable, but not one built by Go
			}
			sum := sha256.Sum256(data)
			found[name] = Binary{Platform: platform, Path: name, SHA256: hex.EncodeToString(sum[:]), Info: info}
		}
	}
	out := make([]Binary, 0, len(found))
	for _, b := range found {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Module is one module linked into a binary, as recorded in its build information.
type Module struct {
	Path     string // the module path the code imports
	Version  string
	Sum      string // h1:... hash, empty for the main module
	Replaces string // "path version" of the module this one replaces, if any
}

// String is the canonical one-line form used in comparisons and reports.
func (m Module) String() string {
	s := m.Path + "@" + m.Version
	if m.Sum != "" {
		s += " " + m.Sum
	}
	if m.Replaces != "" {
		s += " (replaces " + m.Replaces + ")"
	}
	return s
}

// Modules returns the dependency modules of info (replacements resolved), sorted.
func Modules(info *debug.BuildInfo) []Module {
	var out []Module
	for _, d := range info.Deps {
		m := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if d.Replace != nil {
			m = Module{Path: d.Replace.Path, Version: d.Replace.Version, Sum: d.Replace.Sum, Replaces: d.Path + " " + d.Version}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Settings returns the build settings of info as sorted "key=value" lines.
func Settings(info *debug.BuildInfo) []string {
	out := make([]string, 0, len(info.Settings))
	for _, s := range info.Settings {
		out = append(out, s.Key+"="+s.Value)
	}
	sort.Strings(out)
	return out
}

// SumHex converts a Go module h1: hash to the hex SHA-256 it encodes ("" if it is not one).
func SumHex(sum string) string {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(raw)
}

// Purl returns the package URL of a Go module version.
func Purl(path, version string) string {
	p := "pkg:golang/" + escapePurl(path)
	if version != "" {
		p += "@" + escapePurl(version)
	}
	return p
}

func escapePurl(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
