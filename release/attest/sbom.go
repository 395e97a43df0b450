package attest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SPDXPredicateType is the in-toto predicate type of an SPDX document (cosign --type spdxjson).
const SPDXPredicateType = "https://spdx.dev/Document"

// Annotation comment prefixes on a binary's SPDX package. They carry what SPDX has no field
// for, one fact per annotation, so a reader can check each against the binary.
const (
	annGoVersion = "go.version: "
	annMain      = "go.main: "
	annSetting   = "go.buildsetting: "
	annPlatform  = "platform: "
)

// SPDX is the subset of an SPDX 2.3 JSON document that Cairn writes.
type SPDX struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	Packages          []SPDXPackage      `json:"packages"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

// SPDXCreationInfo says who made the document and when (the release epoch).
type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// SPDXPackage is one package: a binary, the Go standard library, or a module.
type SPDXPackage struct {
	Name                  string           `json:"name"`
	SPDXID                string           `json:"SPDXID"`
	VersionInfo           string           `json:"versionInfo,omitempty"`
	DownloadLocation      string           `json:"downloadLocation"`
	FilesAnalyzed         bool             `json:"filesAnalyzed"`
	Checksums             []SPDXChecksum   `json:"checksums,omitempty"`
	LicenseConcluded      string           `json:"licenseConcluded"`
	LicenseDeclared       string           `json:"licenseDeclared"`
	CopyrightText         string           `json:"copyrightText"`
	ExternalRefs          []SPDXRef        `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string           `json:"primaryPackagePurpose,omitempty"`
	Comment               string           `json:"comment,omitempty"`
	Annotations           []SPDXAnnotation `json:"annotations,omitempty"`
}

// SPDXChecksum is a package checksum.
type SPDXChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// SPDXRef is an external reference, here always a purl.
type SPDXRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// SPDXAnnotation is a package annotation.
type SPDXAnnotation struct {
	Annotator      string `json:"annotator"`
	AnnotationDate string `json:"annotationDate"`
	AnnotationType string `json:"annotationType"`
	Comment        string `json:"comment"`
}

// SPDXRelationship relates two elements.
type SPDXRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

const tool = "Tool: cairn-release"

// SBOM returns the SPDX 2.3 document of the binaries shipped in subject (an index or a
// platform image) of the image called name, at the given release version: each binary's
// package carries it, and its purl is the main module's at that version (MainPurl), so that
// scanners can match it (the binary's own build information says "(devel)").
func SBOM(name, version string, subject v1.Hash, bins []Binary, epoch time.Time) *SPDX {
	date := epoch.UTC().Format(time.RFC3339)
	doc := &SPDX{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              name + "@" + subject.String(),
		DocumentNamespace: "https://github.com/cairn-iot/cairn/spdx/" + name + "/" + subject.Algorithm + "-" + subject.Hex,
		CreationInfo:      SPDXCreationInfo{Created: date, Creators: []string{tool, "Organization: Cairn"}},
	}
	seen := map[string]bool{}
	add := func(p SPDXPackage) {
		if !seen[p.SPDXID] {
			seen[p.SPDXID] = true
			doc.Packages = append(doc.Packages, p)
		}
	}
	for _, b := range bins {
		ann := func(c string) SPDXAnnotation {
			return SPDXAnnotation{Annotator: tool, AnnotationDate: date, AnnotationType: "OTHER", Comment: c}
		}
		anns := []SPDXAnnotation{ann(annPlatform + b.Platform), ann(annGoVersion + b.Info.GoVersion), ann(annMain + b.Info.Main.Path + "@" + b.Info.Main.Version)}
		for _, s := range Settings(b.Info) {
			anns = append(anns, ann(annSetting+s))
		}
		binID := spdxID("Binary", b.Platform+b.Path)
		add(SPDXPackage{
			Name: b.Path, SPDXID: binID, VersionInfo: version, DownloadLocation: "NOASSERTION",
			Checksums:        []SPDXChecksum{{Algorithm: "SHA256", ChecksumValue: b.SHA256}},
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			ExternalRefs:          []SPDXRef{purlRef(MainPurl(b.Info.Main.Path, b.Info.Path, version))},
			PrimaryPackagePurpose: "APPLICATION",
			Comment:               "Go executable of package " + b.Info.Path + " for " + b.Platform,
			Annotations:           anns,
		})
		doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", binID})
		stdID := spdxID("Go", b.Info.GoVersion)
		add(SPDXPackage{
			Name: "stdlib", SPDXID: stdID, VersionInfo: b.Info.GoVersion, DownloadLocation: "https://go.dev/dl/",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "BSD-3-Clause", CopyrightText: "NOASSERTION",
			ExternalRefs:          []SPDXRef{purlRef(Purl("stdlib", b.Info.GoVersion))},
			PrimaryPackagePurpose: "LIBRARY",
			Comment:               "the Go toolchain and standard library",
		})
		doc.Relationships = append(doc.Relationships, SPDXRelationship{binID, "DEPENDS_ON", stdID})
		for _, m := range Modules(b.Info) {
			id := spdxID("Module", m.String())
			p := SPDXPackage{
				Name: m.Path, SPDXID: id, VersionInfo: m.Version, DownloadLocation: "https://proxy.golang.org/" + m.Path + "/@v/" + m.Version + ".zip",
				LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
				ExternalRefs:          []SPDXRef{purlRef(Purl(m.Path, m.Version))},
				PrimaryPackagePurpose: "LIBRARY",
				Comment:               "go.sum " + m.Sum,
			}
			if h := SumHex(m.Sum); h != "" {
				p.Checksums = []SPDXChecksum{{Algorithm: "SHA256", ChecksumValue: h}}
			}
			if m.Replaces != "" {
				p.Comment += "; replaces " + m.Replaces
			}
			add(p)
			doc.Relationships = append(doc.Relationships, SPDXRelationship{binID, "DEPENDS_ON", id})
		}
	}
	return doc
}

func purlRef(p string) SPDXRef {
	return SPDXRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: p}
}

// spdxID makes an SPDX identifier (letters, digits, '.', '-') from kind and key.
func spdxID(kind, key string) string {
	var b strings.Builder
	b.WriteString("SPDXRef-" + kind + "-")
	for _, c := range []byte(key) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "-%02X", c)
		}
	}
	return b.String()
}

// SBOMBinary is what an SBOM says about one binary; it is compared with the binary itself.
type SBOMBinary struct {
	Platform  string
	Path      string
	SHA256    string
	GoVersion string
	Main      string
	Settings  []string
	Modules   []string // Module.String() lines, sorted
}

// Binaries reads back, per binary package, what the document records.
func (doc *SPDX) Binaries() ([]SBOMBinary, error) {
	byID := map[string]SPDXPackage{}
	for _, p := range doc.Packages {
		byID[p.SPDXID] = p
	}
	deps := map[string][]string{}
	var described []string
	for _, r := range doc.Relationships {
		switch {
		case r.SPDXElementID == "SPDXRef-DOCUMENT" && r.RelationshipType == "DESCRIBES":
			described = append(described, r.RelatedSPDXElement)
		case r.RelationshipType == "DEPENDS_ON":
			deps[r.SPDXElementID] = append(deps[r.SPDXElementID], r.RelatedSPDXElement)
		}
	}
	var out []SBOMBinary
	for _, id := range described {
		p, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("reading SBOM: DESCRIBES names %s, which is not a package", id)
		}
		b := SBOMBinary{Path: p.Name}
		for _, c := range p.Checksums {
			if c.Algorithm == "SHA256" {
				b.SHA256 = c.ChecksumValue
			}
		}
		for _, a := range p.Annotations {
			switch {
			case strings.HasPrefix(a.Comment, annPlatform):
				b.Platform = strings.TrimPrefix(a.Comment, annPlatform)
			case strings.HasPrefix(a.Comment, annGoVersion):
				b.GoVersion = strings.TrimPrefix(a.Comment, annGoVersion)
			case strings.HasPrefix(a.Comment, annMain):
				b.Main = strings.TrimPrefix(a.Comment, annMain)
			case strings.HasPrefix(a.Comment, annSetting):
				b.Settings = append(b.Settings, strings.TrimPrefix(a.Comment, annSetting))
			}
		}
		for _, d := range deps[id] {
			m, ok := byID[d]
			if !ok {
				return nil, fmt.Errorf("reading SBOM: %s depends on %s, which is not a package", id, d)
			}
			if m.Name == "stdlib" {
				if m.VersionInfo != b.GoVersion {
					return nil, fmt.Errorf("reading SBOM: %s says %s but depends on stdlib %s", p.Name, b.GoVersion, m.VersionInfo)
				}
				continue
			}
			mod := Module{Path: m.Name, Version: m.VersionInfo}
			sum, replaces, _ := strings.Cut(strings.TrimPrefix(m.Comment, "go.sum "), "; replaces ")
			mod.Sum, mod.Replaces = sum, replaces
			if h := SumHex(mod.Sum); len(m.Checksums) != 1 || m.Checksums[0].ChecksumValue != h {
				return nil, fmt.Errorf("reading SBOM: module %s: checksum does not match its go.sum hash %s", m.Name, mod.Sum)
			}
			b.Modules = append(b.Modules, mod.String())
		}
		sort.Strings(b.Settings)
		sort.Strings(b.Modules)
		out = append(out, b)
	}
	return out, nil
}

// Describe returns what bins themselves say, in the form of SBOMBinary, for comparisons.
func Describe(bins []Binary) []SBOMBinary {
	out := make([]SBOMBinary, 0, len(bins))
	for _, b := range bins {
		d := SBOMBinary{
			Platform: b.Platform, Path: b.Path, SHA256: b.SHA256, GoVersion: b.Info.GoVersion,
			Main: b.Info.Main.Path + "@" + b.Info.Main.Version, Settings: Settings(b.Info),
		}
		for _, m := range Modules(b.Info) {
			d.Modules = append(d.Modules, m.String())
		}
		out = append(out, d)
	}
	return out
}

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is a statement's subject: the name and digest of what it is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// StatementType is the in-toto Statement v1 type.
const StatementType = "https://in-toto.io/Statement/v1"

// NewStatement wraps predicate in a statement about subject.
func NewStatement(name string, subject v1.Hash, predicateType string, predicate any) ([]byte, error) {
	p, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("encoding %s predicate: %w", predicateType, err)
	}
	return json.Marshal(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{subject.Algorithm: subject.Hex}}},
		PredicateType: predicateType,
		Predicate:     p,
	})
}

// ParseStatement decodes an in-toto statement (v1 or v0.1).
func ParseStatement(data []byte) (*Statement, error) {
	var s Statement
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding in-toto statement: %w", err)
	}
	if !strings.HasPrefix(s.Type, "https://in-toto.io/Statement/") {
		return nil, fmt.Errorf("decoding in-toto statement: expected _type %s, found %q", StatementType, s.Type)
	}
	return &s, nil
}

// About reports whether the statement's subjects include digest.
func (s *Statement) About(digest v1.Hash) bool {
	for _, sub := range s.Subject {
		if sub.Digest[digest.Algorithm] == digest.Hex {
			return true
		}
	}
	return false
}
