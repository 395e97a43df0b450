package attest

import (
	"crypto/sha1"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CycloneDXPredicateType is the in-toto predicate type of a CycloneDX BOM (cosign --type
// cyclonedx).
const CycloneDXPredicateType = "https://cyclonedx.org/bom"

// Property names on a binary's CycloneDX component: what the SPDX document's annotations say.
const (
	propPlatform  = "cairn:platform"
	propGoVersion = "cairn:go.version"
	propMain      = "cairn:go.main"
	propSetting   = "cairn:go.buildsetting"
	propSum       = "cairn:go.sum"
	propReplaces  = "cairn:go.replaces"
)

// CycloneDX is the subset of a CycloneDX 1.6 JSON BOM that Cairn writes.
type CycloneDX struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     CDXMetadata     `json:"metadata"`
	Components   []CDXComponent  `json:"components"`
	Dependencies []CDXDependency `json:"dependencies"`
}

// CDXMetadata says when (the release epoch), by what and about what the BOM is.
type CDXMetadata struct {
	Timestamp string        `json:"timestamp"`
	Tools     CDXTools      `json:"tools"`
	Component *CDXComponent `json:"component"`
}

// CDXTools lists the tools that made the BOM.
type CDXTools struct {
	Components []CDXComponent `json:"components"`
}

// CDXComponent is one component: the image, a binary, the Go standard library or a module.
type CDXComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	Purl       string        `json:"purl,omitempty"`
	Hashes     []CDXHash     `json:"hashes,omitempty"`
	Properties []CDXProperty `json:"properties,omitempty"`
}

// CDXHash is a component's hash.
type CDXHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// CDXProperty is a name-value pair.
type CDXProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CDXDependency says what ref depends on.
type CDXDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// CycloneDXBOM returns the CycloneDX 1.6 BOM of the binaries shipped in subject (an index or
// a platform image) of the image called name, at the given release version. It says what SBOM
// says, in CycloneDX's terms; its serial number is derived from the subject, its timestamp is
// the epoch, so the same image gives the same bytes.
func CycloneDXBOM(name, version string, subject v1.Hash, bins []Binary, epoch time.Time) *CycloneDX {
	image := CDXComponent{Type: "container", BOMRef: "image:" + subject.String(), Name: name, Version: subject.String()}
	bom := &CycloneDX{
		BOMFormat: "CycloneDX", SpecVersion: "1.6", Version: 1,
		SerialNumber: serialNumber(name, subject),
		Metadata: CDXMetadata{
			Timestamp: epoch.UTC().Format(time.RFC3339),
			Tools:     CDXTools{Components: []CDXComponent{{Type: "application", Name: "cairn-release"}}},
			Component: &image,
		},
		Components: []CDXComponent{},
	}
	seen := map[string]bool{}
	add := func(c CDXComponent) {
		if !seen[c.BOMRef] {
			seen[c.BOMRef] = true
			bom.Components = append(bom.Components, c)
		}
	}
	var binRefs []string
	for _, b := range bins {
		props := []CDXProperty{{propPlatform, b.Platform}, {propGoVersion, b.Info.GoVersion}, {propMain, b.Info.Main.Path + "@" + b.Info.Main.Version}}
		for _, s := range Settings(b.Info) {
			props = append(props, CDXProperty{propSetting, s})
		}
		ref := "binary:" + b.Platform + ":" + b.Path
		binRefs = append(binRefs, ref)
		add(CDXComponent{
			Type: "application", BOMRef: ref, Name: b.Path, Version: version,
			Purl: MainPurl(b.Info.Main.Path, b.Info.Path, version), Hashes: []CDXHash{{"SHA-256", b.SHA256}},
			Properties: props,
		})
		std := Purl("stdlib", b.Info.GoVersion)
		add(CDXComponent{Type: "library", BOMRef: std, Name: "stdlib", Version: b.Info.GoVersion, Purl: std})
		deps := []string{std}
		for _, m := range Modules(b.Info) {
			p := Purl(m.Path, m.Version)
			c := CDXComponent{Type: "library", BOMRef: p, Name: m.Path, Version: m.Version, Purl: p,
				Properties: []CDXProperty{{propSum, m.Sum}}}
			if h := SumHex(m.Sum); h != "" {
				c.Hashes = []CDXHash{{"SHA-256", h}}
			}
			if m.Replaces != "" {
				c.Properties = append(c.Properties, CDXProperty{propReplaces, m.Replaces})
			}
			add(c)
			if !slices.Contains(deps, p) {
				deps = append(deps, p)
			}
		}
		bom.Dependencies = append(bom.Dependencies, CDXDependency{Ref: ref, DependsOn: deps})
	}
	bom.Dependencies = append([]CDXDependency{{Ref: image.BOMRef, DependsOn: binRefs}}, bom.Dependencies...)
	for _, c := range bom.Components {
		if c.Type == "library" && !hasDependency(bom.Dependencies, c.BOMRef) {
			bom.Dependencies = append(bom.Dependencies, CDXDependency{Ref: c.BOMRef, DependsOn: []string{}})
		}
	}
	return bom
}

func hasDependency(deps []CDXDependency, ref string) bool {
	for _, d := range deps {
		if d.Ref == ref {
			return true
		}
	}
	return false
}

// serialNumber is a name-based (version 5) UUID URN of the image and subject: the same
// subject, the same serial number.
func serialNumber(name string, subject v1.Hash) string {
	// RFC 9562's URL namespace.
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte("https://github.com/cairn-iot/cairn/cyclonedx/" + name + "/" + subject.Algorithm + "-" + subject.Hex))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// MainPurl is the package URL of a binary built from package pkg of main module mod at the
// release version: pkg:golang/<module>@<version>#<package's path in the module>. Without a
// module path (a binary with no build information for it), the package's own purl.
func MainPurl(mod, pkg, version string) string {
	if mod == "" {
		return Purl(pkg, version)
	}
	p := Purl(mod, version)
	if sub := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/"); sub != "" && sub != pkg {
		p += "#" + sub
	}
	return p
}

// Binaries reads back, per binary component, what the BOM records: the same facts as
// SPDX.Binaries, for the same comparison with the binary.
func (bom *CycloneDX) Binaries() ([]SBOMBinary, error) {
	byRef := map[string]CDXComponent{}
	for _, c := range bom.Components {
		byRef[c.BOMRef] = c
	}
	var out []SBOMBinary
	for _, d := range bom.Dependencies {
		c, ok := byRef[d.Ref]
		if !ok || c.Type != "application" {
			continue
		}
		b := SBOMBinary{Path: c.Name}
		for _, h := range c.Hashes {
			if h.Alg == "SHA-256" {
				b.SHA256 = h.Content
			}
		}
		for _, p := range c.Properties {
			switch p.Name {
			case propPlatform:
				b.Platform = p.Value
			case propGoVersion:
				b.GoVersion = p.Value
			case propMain:
				b.Main = p.Value
			case propSetting:
				b.Settings = append(b.Settings, p.Value)
			}
		}
		for _, ref := range d.DependsOn {
			m, ok := byRef[ref]
			if !ok {
				return nil, fmt.Errorf("reading CycloneDX BOM: %s depends on %s, which is not a component", d.Ref, ref)
			}
			if m.Name == "stdlib" {
				if m.Version != b.GoVersion {
					return nil, fmt.Errorf("reading CycloneDX BOM: %s says %s but depends on stdlib %s", c.Name, b.GoVersion, m.Version)
				}
				continue
			}
			mod := Module{Path: m.Name, Version: m.Version}
			for _, p := range m.Properties {
				switch p.Name {
				case propSum:
					mod.Sum = p.Value
				case propReplaces:
					mod.Replaces = p.Value
				}
			}
			if h := SumHex(mod.Sum); len(m.Hashes) != 1 || m.Hashes[0].Content != h {
				return nil, fmt.Errorf("reading CycloneDX BOM: module %s: hash does not match its go.sum hash %s", m.Name, mod.Sum)
			}
			b.Modules = append(b.Modules, mod.String())
		}
		sort.Strings(b.Settings)
		sort.Strings(b.Modules)
		out = append(out, b)
	}
	return out, nil
}
