package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/source"
)

// inputsSchema versions InputsFile; a change makes every older dist/ out of date.
const inputsSchema = "cairn.inputs/v1"

// Inputs is the fingerprint file's content.
type Inputs struct {
	Schema string `json:"schema"`
	// Digest is "sha256:<hex>" over the release's options (Options.inputsHeader), every
	// file of the module tree (Options.treeDigest: the sources, go.mod, go.sum, lock/, the
	// goreleaser config and packaging/) and the ExtraInputs (the signing key).
	Digest string `json:"digest"`
	// Files maps each file below dist/ (slash-separated, relative) to its SHA-256 in hex.
	Files map[string]string `json:"files"`
}

// Freshness is what UpToDate found.
type Freshness struct {
	// Fresh is true when dist/ holds the release of exactly these inputs, intact.
	Fresh bool
	// Digest is the inputs' digest ("sha256:<hex>").
	Digest string
	// Reason says why dist/ is not fresh ("" when it is).
	Reason string
	// Files is how many dist/ files were hashed and matched.
	Files int
	// Record is dist/release.json when Fresh.
	Record *record.Release
}

// UpToDate reports whether o.DistDir already holds the release o describes: its InputsFile
// names the same inputs digest, and every file it lists hashes to the recorded SHA-256
// (extra files, such as dist/bench, are ignored). It reads and hashes every input file and
// every dist/ file, so it never trusts modification times; it writes nothing. o must be
// resolved as for Run (Version, Commit, Epoch set).
func UpToDate(o Options) (Freshness, error) {
	if err := o.defaults(); err != nil {
		return Freshness{}, err
	}
	tree, err := o.treeDigest()
	if err != nil {
		return Freshness{}, err
	}
	return o.upToDate(tree)
}

// upToDate is UpToDate for a resolved o whose module tree has digest tree.
func (o *Options) upToDate(tree string) (Freshness, error) {
	digest, err := o.inputsDigest(tree)
	if err != nil {
		return Freshness{}, err
	}
	f := Freshness{Digest: digest}
	b, err := os.ReadFile(filepath.Join(o.DistDir, record.InputsFile))
	if errors.Is(err, fs.ErrNotExist) {
		f.Reason = "no complete release in " + o.DistDir
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading %s: %w", record.InputsFile, err)
	}
	var in Inputs
	if err := json.Unmarshal(b, &in); err != nil || in.Schema != inputsSchema {
		f.Reason = fmt.Sprintf("%s is not a %s fingerprint", record.InputsFile, inputsSchema)
		return f, nil
	}
	if in.Digest != digest {
		f.Reason = fmt.Sprintf("the inputs changed (%s, dist/ was built from %s)", short(digest), short(in.Digest))
		return f, nil
	}
	names := make([]string, 0, len(in.Files))
	for n := range in.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	sums, err := hashFiles(o.DistDir, names)
	if err != nil {
		f.Reason = fmt.Sprintf("dist/ is incomplete: %v", err)
		return f, nil
	}
	for i, n := range names {
		if sums[i] != in.Files[n] {
			f.Reason = fmt.Sprintf("dist/%s was changed after the release (SHA-256 %s, the release wrote %s)", n, short(sums[i]), short(in.Files[n]))
			return f, nil
		}
	}
	rb, err := os.ReadFile(filepath.Join(o.DistDir, record.File))
	if err != nil {
		f.Reason = fmt.Sprintf("reading %s: %v", record.File, err)
		return f, nil
	}
	var rec record.Release
	if err := json.Unmarshal(rb, &rec); err != nil {
		f.Reason = fmt.Sprintf("decoding %s: %v", record.File, err)
		return f, nil
	}
	f.Fresh, f.Files, f.Record = true, len(names), &rec
	return f, nil
}

// Summary is the line that says a fresh dist/ needs nothing.
func (f Freshness) Summary(version, commit, dist string) string {
	return fmt.Sprintf("release %s (%s): %s is up to date (inputs %s, %d files checked); nothing to do", version, commit, dist, f.Digest, f.Files)
}

func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// writeInputs writes InputsFile into staging: digest and the SHA-256 of every file below it.
func writeInputs(staging, digest string) error {
	var names []string
	err := filepath.WalkDir(staging, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(staging, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the release: %w", err)
	}
	sums, err := hashFiles(staging, names)
	if err != nil {
		return fmt.Errorf("fingerprinting the release: %w", err)
	}
	in := Inputs{Schema: inputsSchema, Digest: digest, Files: map[string]string{}}
	for i, n := range names {
		in.Files[n] = sums[i]
	}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(staging, record.InputsFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", record.InputsFile, err)
	}
	return nil
}

// inputsHeader is the part of the digest that is not file content: every option that shapes
// the output. Paths (GOROOT, caches, the dist directory) are left out: the toolchain is pinned
// by lock/lock.json, which is in the tree, and nothing the release writes records a path.
func (o *Options) inputsHeader() ([]byte, error) {
	return json.Marshal(struct {
		Schema     string
		Mode       Mode
		Services   []record.Service
		Toolchain  string
		Version    string
		Commit     string
		Dirty      bool
		Epoch      int64
		Source     string
		Repository string
		Compressor any
	}{inputsSchema, o.Mode, o.Services, o.Toolchain, o.Version, o.Commit, o.Dirty, o.Epoch.Unix(),
		o.Source, o.Repository, o.Compressor})
}

// inputsDigest is InputsFile's Digest for o: the header, the module tree's digest (tree, from
// treeDigest) and ExtraInputs.
func (o *Options) inputsDigest(tree string) (string, error) {
	h := sha256.New()
	header, err := o.inputsHeader()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "header %d\n%s\n", len(header), header)
	fmt.Fprintf(h, "tree %s\n", tree)
	// By position and content, not path: the same key file elsewhere is the same input.
	for i, p := range o.ExtraInputs {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(h, "extra %d absent\n", i)
		case err != nil:
			return "", fmt.Errorf("reading %s: %w", p, err)
		default:
			sum := sha256.Sum256(b)
			fmt.Fprintf(h, "extra %d %x\n", i, sum)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// treeDigest hashes the module's input files (source.Files): regular files by content and
// executable bit, symlinks by target.
func (o *Options) treeDigest() (string, error) {
	files, err := source.Files(o.ModuleDir, o.DistDir)
	if err != nil {
		return "", err
	}
	var regular []string
	for _, f := range files {
		if f.Regular() {
			regular = append(regular, f.Rel)
		}
	}
	sums, err := hashFiles(o.ModuleDir, regular)
	if err != nil {
		return "", fmt.Errorf("hashing the module tree: %w", err)
	}
	byRel := make(map[string]string, len(regular))
	for i, r := range regular {
		byRel[r] = sums[i]
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%q %s %s\n", f.Rel, f.Kind, byRel[f.Rel])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFiles returns the SHA-256 (hex) of each of dir's files names (slash-separated), read
// by as many workers as there are CPUs.
func hashFiles(dir string, names []string) ([]string, error) {
	sums := make([]string, len(names))
	errs := make([]error, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range next {
				sums[i], errs[i] = hashFile(filepath.Join(dir, filepath.FromSlash(names[i])), buf)
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return sums, errors.Join(errs...)
}

func hashFile(p string, buf []byte) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
