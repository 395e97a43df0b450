package attest

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Provenance constants: what Cairn's release pipeline calls itself.
const (
	ProvenancePredicateType = "https://slsa.dev/provenance/v1"
	// BuildType names Cairn's release pipeline (release/, `go tool mage release`); its
	// externalParameters are those of Build below.
	BuildType = "https://github.com/cairn-iot/cairn/release/buildtype/v1"
	// DefaultBuilderID names the builder when Build.BuilderID is empty.
	DefaultBuilderID = "https://github.com/cairn-iot/cairn/release/targets.Release"
)

// Build is what the provenance records about the release run that made the images.
type Build struct {
	Repository string    // source repository, e.g. https://github.com/cairn-iot/cairn
	Commit     string    // full git commit of the source tree
	Version    string    // release version
	Target     string    // the pipeline target, "release"
	Platforms  []string  // "linux/amd64", "linux/arm/v7"
	Epoch      time.Time // the one clock of the release
	LockFile   string    // path of the lock file in the repository, lock/lock.json
	LockSHA256 string    // hex SHA-256 of the lock file
	Toolchain  string    // go1.26.8
	// ToolchainURI and ToolchainSHA256 name the pinned toolchain archive the build ran.
	ToolchainURI    string
	ToolchainSHA256 string
	Compressor      string // the pinned layer compressor, "module@version level N"
	BuilderID       string // "" means DefaultBuilderID
}

// Provenance is a SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is the SLSA build definition.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	InternalParameters   map[string]string    `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies"`
}

// ExternalParameters are the inputs a user chose.
type ExternalParameters struct {
	Repository string   `json:"repository"`
	Commit     string   `json:"commit"`
	Target     string   `json:"target"`
	Platforms  []string `json:"platforms"`
	Version    string   `json:"version"`
}

// ResourceDescriptor is an in-toto resource descriptor.
type ResourceDescriptor struct {
	URI         string            `json:"uri,omitempty"`
	Name        string            `json:"name,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// RunDetails names the builder; no start or finish times, so the statement reproduces.
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies the build platform.
type Builder struct {
	ID string `json:"id"`
}

// NewProvenance returns the provenance of an image built by b whose layers hold bins.
// Every module of every binary is a resolved dependency; every binary is a byproduct,
// annotated with its toolchain, main module, settings and modules for the audit.
func NewProvenance(b Build, bins []Binary) *Provenance {
	p := &Provenance{}
	d := &p.BuildDefinition
	d.BuildType = BuildType
	d.ExternalParameters = ExternalParameters{Repository: b.Repository, Commit: b.Commit, Target: b.Target, Platforms: b.Platforms, Version: b.Version}
	d.InternalParameters = map[string]string{
		"epoch":      fmt.Sprint(b.Epoch.Unix()),
		"toolchain":  b.Toolchain,
		"compressor": b.Compressor,
	}
	d.ResolvedDependencies = append(d.ResolvedDependencies,
		ResourceDescriptor{URI: "git+" + b.Repository + "@" + b.Commit, Digest: map[string]string{"gitCommit": b.Commit}},
		ResourceDescriptor{URI: "git+" + b.Repository + "@" + b.Commit + "#" + b.LockFile, Name: b.LockFile, Digest: map[string]string{"sha256": b.LockSHA256}},
		ResourceDescriptor{URI: b.ToolchainURI, Name: b.Toolchain, Digest: map[string]string{"sha256": b.ToolchainSHA256}},
	)
	mods := map[string]Module{}
	for _, bin := range bins {
		for _, m := range Modules(bin.Info) {
			mods[m.String()] = m
		}
	}
	keys := make([]string, 0, len(mods))
	for k := range mods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := mods[k]
		rd := ResourceDescriptor{URI: Purl(m.Path, m.Version), Name: m.Path, Annotations: map[string]any{"version": m.Version, "h1": m.Sum}}
		if h := SumHex(m.Sum); h != "" {
			rd.Digest = map[string]string{"sha256": h}
		}
		if m.Replaces != "" {
			rd.Annotations["replaces"] = m.Replaces
		}
		d.ResolvedDependencies = append(d.ResolvedDependencies, rd)
	}
	p.RunDetails.Builder.ID = b.BuilderID
	if p.RunDetails.Builder.ID == "" {
		p.RunDetails.Builder.ID = DefaultBuilderID
	}
	for _, bin := range Describe(bins) {
		p.RunDetails.Byproducts = append(p.RunDetails.Byproducts, ResourceDescriptor{
			Name:   bin.Path,
			Digest: map[string]string{"sha256": bin.SHA256},
			Annotations: map[string]any{
				"platform": bin.Platform, "goVersion": bin.GoVersion, "main": bin.Main,
				"settings": bin.Settings, "modules": bin.Modules,
			},
		})
	}
	return p
}

// Binaries reads back what the provenance says about each binary, checking that every
// module it lists is also a resolved dependency with the same hash.
func (p *Provenance) Binaries() ([]SBOMBinary, error) {
	resolved := map[string]bool{}
	for _, rd := range p.BuildDefinition.ResolvedDependencies {
		h1, ok := rd.Annotations["h1"].(string)
		if !ok {
			continue
		}
		version, _ := rd.Annotations["version"].(string)
		replaces, _ := rd.Annotations["replaces"].(string)
		m := Module{Path: rd.Name, Version: version, Sum: h1, Replaces: replaces}
		if rd.URI != Purl(m.Path, m.Version) || rd.Digest["sha256"] != SumHex(h1) {
			return nil, fmt.Errorf("reading provenance: dependency %s: uri or digest disagrees with %s", rd.URI, m)
		}
		resolved[m.String()] = true
	}
	var out []SBOMBinary
	for _, bp := range p.RunDetails.Byproducts {
		var a struct {
			Platform  string   `json:"platform"`
			GoVersion string   `json:"goVersion"`
			Main      string   `json:"main"`
			Settings  []string `json:"settings"`
			Modules   []string `json:"modules"`
		}
		raw, err := json.Marshal(bp.Annotations)
		if err != nil {
			return nil, fmt.Errorf("reading provenance byproduct %s: %w", bp.Name, err)
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("reading provenance byproduct %s: %w", bp.Name, err)
		}
		for _, m := range a.Modules {
			if !resolved[m] {
				return nil, fmt.Errorf("reading provenance: binary %s lists module %s, which is not a resolved dependency", bp.Name, m)
			}
		}
		out = append(out, SBOMBinary{Platform: a.Platform, Path: bp.Name, SHA256: bp.Digest["sha256"], GoVersion: a.GoVersion, Main: a.Main, Settings: a.Settings, Modules: a.Modules})
	}
	return out, nil
}

// ParseProvenance decodes a SLSA provenance v1 predicate.
func ParseProvenance(data []byte) (*Provenance, error) {
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decoding provenance: %w", err)
	}
	if p.BuildDefinition.BuildType != BuildType {
		return nil, fmt.Errorf("decoding provenance: expected buildType %s, found %q", BuildType, p.BuildDefinition.BuildType)
	}
	return &p, nil
}
