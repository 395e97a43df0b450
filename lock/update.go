package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
)

// Update computes the lock of the module rooted at moduleDir from its go.mod and go.sum,
// lock/tools.mod and lock/tools.sum, and the Go toolchain goVersion (e.g. "go1.26.8"),
// downloading the four toolchain archives through the module proxy (checked against the
// checksum database by `go mod download`). It writes nothing; see Write.
func Update(ctx context.Context, moduleDir, goVersion string, opts ...Option) (*Lock, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if !goVersionRe.MatchString(goVersion) {
		return nil, fmt.Errorf("lock: Go version is %q, want a Go release such as \"go1.26.8\"", goVersion)
	}
	l := &Lock{
		Comment: commentTop,
		Schema:  SchemaVersion,
		Go: Go{
			Comment:  commentGo,
			Module:   ToolchainModule,
			Version:  goVersion,
			Archives: map[string]Archive{},
		},
		Modules: Modules{Comment: commentModules},
		Tools:   Tools{Comment: commentTools, ModFile: ToolsModFile, SumFile: ToolsSumFile},
		Compressor: Compressor{
			Comment:        commentCompressor,
			Implementation: CompressorImplementation,
			Module:         CompressorModule,
			Level:          CompressorLevel,
		},
	}
	if err := o.pinModules(ctx, moduleDir, l); err != nil {
		return nil, err
	}
	for _, p := range Platforms {
		mv := ToolchainModuleVersion(goVersion, p)
		d, err := o.modDownload(ctx, goVersion, p, mv)
		if err != nil {
			return nil, err
		}
		a := Archive{ModuleVersion: mv, URL: ProxyURL(DefaultProxy, mv), H1: d.Sum}
		if a.ZipSHA256, err = fileSHA256(d.Zip); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if a.NixHash, err = NixHash(d.Zip); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		l.Go.Archives[p] = a
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("computing the lock: %w", err)
	}
	return l, nil
}

// pinModules fills in l's modules, tools and compressor sections from moduleDir.
func (o *options) pinModules(ctx context.Context, moduleDir string, l *Lock) error {
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"go.mod", &l.Modules.GoModSHA256},
		{"go.sum", &l.Modules.GoSumSHA256},
		{ToolsModFile, &l.Tools.ModSHA256},
		{ToolsSumFile, &l.Tools.SumSHA256},
	} {
		if *f.dst, err = fileSHA256(filepath.Join(moduleDir, filepath.FromSlash(f.name))); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	tools, err := o.modEdit(ctx, moduleDir, ToolsModFile)
	if err != nil {
		return err
	}
	for _, t := range tools.Tool {
		l.Tools.Commands = append(l.Tools.Commands, toolName(t.Path))
	}
	slices.Sort(l.Tools.Commands)
	if l.Compressor.Version, err = o.requiredVersion(ctx, moduleDir, l.Compressor.Module); err != nil {
		return err
	}
	if l.Modules.NixHash, err = o.modulesNixHash(ctx, moduleDir); err != nil {
		return err
	}
	return nil
}

// Write writes l to path atomically: a temporary file in the same directory, renamed over
// path, so that a reader sees the old lock or the new one, never half of one.
func Write(path string, l *Lock) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	b, err := l.Marshal()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing lock: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing lock: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	return nil
}

// modFile is the part of `go mod edit -json` read here.
type modFile struct {
	Require []struct{ Path, Version string }
	Tool    []struct{ Path string }
}

// modEdit decodes the modfile (relative to moduleDir) with `go mod edit -json`.
func (o *options) modEdit(ctx context.Context, moduleDir, file string) (*modFile, error) {
	out, err := o.goCmd(ctx, moduleDir, "", "mod", "edit", "-json", file)
	if err != nil {
		return nil, fmt.Errorf("lock: reading %s: %w", file, err)
	}
	var m modFile
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("lock: reading %s: %w", file, err)
	}
	return &m, nil
}

// requiredVersion returns the version of module that go.mod requires.
func (o *options) requiredVersion(ctx context.Context, moduleDir, module string) (string, error) {
	m, err := o.modEdit(ctx, moduleDir, "go.mod")
	if err != nil {
		return "", err
	}
	for _, r := range m.Require {
		if r.Path == module {
			return r.Version, nil
		}
	}
	return "", fmt.Errorf("lock: go.mod does not require %s, the layer compressor; run `go get %s@latest`", module, module)
}

var majorSuffix = regexp.MustCompile(`^v[0-9]+$`)

// toolName is the name `go tool` gives the tool with package path p: its last element,
// skipping a major version suffix ("github.com/goreleaser/goreleaser/v2" -> "goreleaser").
func toolName(p string) string {
	name := path.Base(p)
	if majorSuffix.MatchString(name) && path.Dir(p) != "." {
		name = path.Base(path.Dir(p))
	}
	return name
}
