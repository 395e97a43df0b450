// Package lock holds every pinned input that can change a byte of a Cairn release
// (lock/lock.json, File, decoded into Lock) and the code that checks the pins against
// reality (Check) and fetches the pinned toolchain (Toolchain); its go commands run in
// goenv.Tool's environment.
package lock

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// File is the path of the lock file relative to the module root.
const File = "lock/lock.json"

// ToolsModFile and ToolsSumFile are the modfile (and its sum file) of the heavy CLIs,
// relative to the module root: `go tool -modfile=lock/tools.mod cosign ...`.
const (
	ToolsModFile = "lock/tools.mod"
	ToolsSumFile = "lock/tools.sum"
)

// SchemaVersion is the only lock file schema this package reads and writes.
const SchemaVersion = 1

// ToolchainModule is the module the Go module proxy serves official toolchains as.
const ToolchainModule = "golang.org/toolchain"

// Platforms are the hosts whose toolchain archive the lock pins, in "GOOS-GOARCH" form, sorted.
var Platforms = []string{"darwin-amd64", "darwin-arm64", "linux-amd64", "linux-arm64"}

// Compressor defaults: the one gzip implementation that writes image layers, and its level.
const (
	CompressorModule         = "github.com/klauspost/compress"
	CompressorImplementation = "github.com/klauspost/compress/gzip"
	CompressorLevel          = 6
)

// Lock is the decoded lock file, lock/lock.json (File): plain JSON that people diff and
// flake.nix reads. Field order is the JSON key order, alphabetical.
// It records:
//
//   - go: the Go toolchain that builds releases (Version, e.g. "go1.26.8") and, for
//     linux-amd64, linux-arm64, darwin-amd64 and darwin-arm64, the golang.org/toolchain
//     module zip the Go module proxy serves: its module version, the SHA-256 of the zip, the
//     module's h1 sum (as in go.sum and the checksum database), the proxy URL and the hash
//     nix's builtins.fetchTarball computes for that URL.
//   - modules: the SHA-256 of go.mod and go.sum. go.sum is the module lock; Check also
//     verifies the module cache against it.
//   - tools: the SHA-256 of lock/tools.mod and lock/tools.sum, the modfile of the heavy CLIs
//     (cosign, goreleaser) run as `go tool -modfile=lock/tools.mod <tool>`.
//   - compressor: the implementation, module version and level of the gzip compressor that
//     writes image layers; the version must equal the one go.mod requires.
//
// Every section carries a "comment" field that says what it pins, so the file documents
// itself. The file is written one way (Marshal): two-space indentation, keys in a fixed
// order that is also alphabetical, one fact per line, a final newline.
//
// Load decodes strictly: an unknown field, a missing field, a malformed hash or trailing
// data is an error, never a silent default.
type Lock struct {
	Comment    string     `json:"comment"`
	Compressor Compressor `json:"compressor"`
	Go         Go         `json:"go"`
	Modules    Modules    `json:"modules"`
	Schema     int        `json:"schema"`
	Tools      Tools      `json:"tools"`
}

// Go pins the toolchain that builds releases.
type Go struct {
	Comment string `json:"comment"`
	// Archives maps "GOOS-GOARCH" (see Platforms) to the official toolchain archive for that host.
	Archives map[string]Archive `json:"archives"`
	// Module is ToolchainModule.
	Module string `json:"module"`
	// Version is the Go version, e.g. "go1.26.8".
	Version string `json:"version"`
}

// Archive is one golang.org/toolchain module zip.
type Archive struct {
	// H1 is the module's dirhash ("h1:..."), as in go.sum and sum.golang.org.
	H1 string `json:"h1"`
	// ModuleVersion is the module version, e.g. "v0.0.1-go1.26.8.linux-amd64".
	ModuleVersion string `json:"module_version"`
	// NixHash is the SRI hash ("sha256-...") of the NAR serialisation of the tree that
	// builtins.fetchTarball { url = URL; sha256 = ...; } unpacks from URL (nix strips the
	// single top-level directory "golang.org", so the tree holds one directory,
	// "toolchain@<ModuleVersion>", the GOROOT).
	NixHash string `json:"nix_hash"`
	// URL is where the proxy serves the zip (proxy.golang.org).
	URL string `json:"url"`
	// ZipSHA256 is "sha256:<hex>" of the zip file itself.
	ZipSHA256 string `json:"zip_sha256"`
}

// Modules pins the Go module graph of the repository.
type Modules struct {
	Comment     string `json:"comment"`
	GoModSHA256 string `json:"go_mod_sha256"`
	GoSumSHA256 string `json:"go_sum_sha256"`
	// NixHash is the SRI hash of the module proxy tree flake.nix downloads as one
	// fixed-output derivation (the NAR of <escaped module>/@v/<version>.{mod,zip}); see
	// ModulesNixHash.
	NixHash string `json:"nix_hash"`
}

// Tools pins the modfile of the heavy CLIs.
type Tools struct {
	Comment string `json:"comment"`
	// Commands are the tools the modfile provides, as `go tool -modfile=<ModFile> <name>` runs them.
	Commands  []string `json:"commands"`
	ModFile   string   `json:"mod_file"`
	ModSHA256 string   `json:"mod_sha256"`
	SumFile   string   `json:"sum_file"`
	SumSHA256 string   `json:"sum_sha256"`
}

// Compressor pins the gzip implementation that compresses image layers.
type Compressor struct {
	Comment string `json:"comment"`
	// Implementation is the package that compresses, e.g. "github.com/klauspost/compress/gzip".
	Implementation string `json:"implementation"`
	// Level is the gzip level (1..9).
	Level int `json:"level"`
	// Module is the module that provides Implementation; go.mod must require it at Version.
	Module string `json:"module"`
	// Version is the module version, equal to go.mod's requirement.
	Version string `json:"version"`
}

// Comments written into every section by New; they document the file for its readers.
const (
	commentTop        = "Every pinned input that can change a byte of a Cairn release. Written by `go tool mage lock`, checked by `go tool mage lock:check` (every release runs it first). Do not edit by hand; see lock/README.md."
	commentGo         = "The Go toolchain that builds releases: release builds run <archive>/bin/go directly with GOTOOLCHAIN=local. archives: per GOOS-GOARCH host, the golang.org/toolchain module zip from the Go module proxy: zip_sha256 = SHA-256 of the zip file, h1 = module sum (go.sum form, also in sum.golang.org), nix_hash = builtins.fetchTarball hash (NAR of the unpacked tree, SRI form) of url."
	commentModules    = "The module lock: SHA-256 of go.mod and go.sum. lock:check also verifies the module cache against go.sum (go mod verify and the cached zip hashes). nix_hash = hash (NAR, SRI form) of the module proxy tree that flake.nix downloads as one fixed-output derivation: the *.mod and *.zip files of a fresh `go mod download`."
	commentTools      = "The heavy CLIs, pinned in their own modfile and run as `go tool -modfile=lock/tools.mod <command>`; SHA-256 of the modfile and its sum file. Mage and protoc-gen-go are tool lines in go.mod, pinned by go.sum."
	commentCompressor = "The gzip implementation that compresses every image layer, its module version (must equal go.mod's requirement) and level; named in the provenance."
)

// Load reads and strictly decodes the lock file at path (usually File below the module root).
func Load(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading lock: %w", err)
	}
	l, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; run `go tool mage lock` to rewrite it", path, err)
	}
	return l, nil
}

// Parse strictly decodes a lock file: unknown fields, missing or malformed values and
// trailing data are errors.
func Parse(b []byte) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decoding lock: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decoding lock: unexpected data after the JSON object")
	}
	if err := noDuplicateKeys(b); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// noDuplicateKeys refuses an object that names a key twice: encoding/json keeps the last
// value, another reader (nix's builtins.fromJSON) might keep another, and a lock must mean
// one thing.
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if key != strings.ToLower(key) {
					// encoding/json matches field names case-insensitively; the lock's keys are all lowercase.
					return fmt.Errorf("decoding lock: key %q is not lowercase", key)
				}
				if seen[key] {
					return fmt.Errorf("decoding lock: key %q appears twice in one object", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk()
}

var (
	sha256Re    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	goVersionRe = regexp.MustCompile(`^go1\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	modVerRe    = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	nixHashRe   = regexp.MustCompile(`^sha256-[A-Za-z0-9+/]{43}=$`)
	toolNameRe  = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

func checkSHA256(field, v string) error {
	if !sha256Re.MatchString(v) {
		return fmt.Errorf("lock: %s is %q, want \"sha256:\" and 64 lowercase hex digits", field, v)
	}
	return nil
}

func checkH1(field, v string) error {
	rest, ok := strings.CutPrefix(v, "h1:")
	if b, err := base64.StdEncoding.DecodeString(rest); !ok || err != nil || len(b) != 32 {
		return fmt.Errorf("lock: %s is %q, want \"h1:\" and a base64 SHA-256", field, v)
	}
	return nil
}

// Validate reports the first field of l that is missing or malformed.
func (l *Lock) Validate() error {
	if l.Schema != SchemaVersion {
		return fmt.Errorf("lock: schema is %d, want %d", l.Schema, SchemaVersion)
	}
	if !goVersionRe.MatchString(l.Go.Version) {
		return fmt.Errorf("lock: go.version is %q, want a Go release such as \"go1.26.8\"", l.Go.Version)
	}
	if l.Go.Module != ToolchainModule {
		return fmt.Errorf("lock: go.module is %q, want %q", l.Go.Module, ToolchainModule)
	}
	for _, p := range Platforms {
		a, ok := l.Go.Archives[p]
		if !ok {
			return fmt.Errorf("lock: go.archives has no %q entry, want one for each of %s", p, strings.Join(Platforms, ", "))
		}
		field := "go.archives." + p
		if want := ToolchainModuleVersion(l.Go.Version, p); a.ModuleVersion != want {
			return fmt.Errorf("lock: %s.module_version is %q, want %q", field, a.ModuleVersion, want)
		}
		if want := ProxyURL(DefaultProxy, a.ModuleVersion); a.URL != want {
			return fmt.Errorf("lock: %s.url is %q, want %q", field, a.URL, want)
		}
		if err := checkSHA256(field+".zip_sha256", a.ZipSHA256); err != nil {
			return err
		}
		if err := checkH1(field+".h1", a.H1); err != nil {
			return err
		}
		if !nixHashRe.MatchString(a.NixHash) {
			return fmt.Errorf("lock: %s.nix_hash is %q, want an SRI hash \"sha256-<base64>\"", field, a.NixHash)
		}
	}
	for p := range l.Go.Archives {
		if !slices.Contains(Platforms, p) {
			return fmt.Errorf("lock: go.archives has an entry %q, want only %s", p, strings.Join(Platforms, ", "))
		}
	}
	if err := checkSHA256("modules.go_mod_sha256", l.Modules.GoModSHA256); err != nil {
		return err
	}
	if err := checkSHA256("modules.go_sum_sha256", l.Modules.GoSumSHA256); err != nil {
		return err
	}
	if !nixHashRe.MatchString(l.Modules.NixHash) {
		return fmt.Errorf("lock: modules.nix_hash is %q, want an SRI hash \"sha256-<base64>\"", l.Modules.NixHash)
	}
	if l.Tools.ModFile != ToolsModFile || l.Tools.SumFile != ToolsSumFile {
		return fmt.Errorf("lock: tools.mod_file and tools.sum_file are %q and %q, want %q and %q", l.Tools.ModFile, l.Tools.SumFile, ToolsModFile, ToolsSumFile)
	}
	if err := checkSHA256("tools.mod_sha256", l.Tools.ModSHA256); err != nil {
		return err
	}
	if err := checkSHA256("tools.sum_sha256", l.Tools.SumSHA256); err != nil {
		return err
	}
	if len(l.Tools.Commands) == 0 || !slices.IsSorted(l.Tools.Commands) {
		return fmt.Errorf("lock: tools.commands is %q, want a sorted, non-empty list", l.Tools.Commands)
	}
	for i, c := range l.Tools.Commands {
		if !toolNameRe.MatchString(c) || (i > 0 && l.Tools.Commands[i-1] == c) {
			return fmt.Errorf("lock: tools.commands has %q, want distinct command names", c)
		}
	}
	c := l.Compressor
	if c.Module == "" || !strings.HasPrefix(c.Implementation, c.Module) {
		return fmt.Errorf("lock: compressor.implementation %q is not a package of compressor.module %q", c.Implementation, c.Module)
	}
	if !modVerRe.MatchString(c.Version) {
		return fmt.Errorf("lock: compressor.version is %q, want a module version such as \"v1.18.0\"", c.Version)
	}
	if c.Level < 1 || c.Level > 9 {
		return fmt.Errorf("lock: compressor.level is %d, want 1 to 9", c.Level)
	}
	return nil
}

// Archive returns the pinned toolchain archive for the host goos/goarch.
func (l *Lock) Archive(goos, goarch string) (Archive, error) {
	a, ok := l.Go.Archives[goos+"-"+goarch]
	if !ok {
		return Archive{}, fmt.Errorf("lock: no %s toolchain archive for %s-%s; the lock pins %s", l.Go.Version, goos, goarch, strings.Join(Platforms, ", "))
	}
	return a, nil
}

// Marshal encodes l the one way lock files are written: indented, fixed key order, final newline.
func (l *Lock) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return nil, fmt.Errorf("encoding lock: %w", err)
	}
	return buf.Bytes(), nil
}

// DefaultProxy is the Go module proxy the archive URLs name.
const DefaultProxy = "https://proxy.golang.org"

// ToolchainModuleVersion returns the golang.org/toolchain module version of Go version goVersion
// for platform "GOOS-GOARCH": ToolchainModuleVersion("go1.26.8", "linux-amd64") =
// "v0.0.1-go1.26.8.linux-amd64".
func ToolchainModuleVersion(goVersion, platform string) string {
	return "v0.0.1-" + goVersion + "." + platform
}

// ProxyURL returns the URL of the toolchain zip of moduleVersion on the proxy.
func ProxyURL(proxy, moduleVersion string) string {
	return strings.TrimSuffix(proxy, "/") + "/" + ToolchainModule + "/@v/" + moduleVersion + ".zip"
}

// sha256String formats a SHA-256 digest as the lock writes it: "sha256:<hex>".
func sha256String(sum []byte) string { return "sha256:" + hex.EncodeToString(sum) }
