package release

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Compared lists what verify compares bit for bit below dist/: the binaries, the OCI layout,
// the archives and the record. Everything else (dist/cosign, dist/attestations,
// dist/packages, written by steps) is outside the reproducible core: signatures are
// randomised ECDSA and carry their own verification; `cairn-release verify` audits
// dist/cosign and dist/attestations after the comparison (package release/evidence).
var Compared = []string{"bin", "oci", "archives", RecordFile}

// Check is one line of a verification report.
type Check struct {
	// Name is what was compared: a dist-relative path, or "image <svc> <platform> ...".
	Name string `json:"name"`
	// Pass reports whether it matched.
	Pass bool `json:"pass"`
	// Detail explains a failure: which layer, which file inside it, the two hashes; or why
	// a check was skipped.
	Detail string `json:"detail,omitempty"`
	// Skipped marks a check that did not apply (Pass is true): the evidence check of an
	// unsigned dist/ says so instead of saying nothing.
	Skipped bool `json:"skipped,omitempty"`
}

// Report is the outcome of a verification, gorebuild style.
type Report struct {
	// Pass is true when every check passed.
	Pass bool `json:"pass"`
	// Version and Commit identify the release verified.
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Checks are in a fixed order: record-level image checks, then files by path.
	Checks []Check `json:"checks"`
}

// Text renders the report as lines "PASS name" / "FAIL name: detail" and a summary.
func (r *Report) Text() string {
	var b strings.Builder
	fails := 0
	skipped := 0
	for _, c := range r.Checks {
		switch {
		case c.Skipped:
			skipped++
			fmt.Fprintf(&b, "SKIP %s: %s\n", c.Name, c.Detail)
		case c.Pass:
			fmt.Fprintf(&b, "PASS %s\n", c.Name)
		default:
			fails++
			fmt.Fprintf(&b, "FAIL %s: %s\n", c.Name, c.Detail)
		}
	}
	if r.Pass {
		fmt.Fprintf(&b, "PASS release %s (%s): %d checks (%d skipped), rebuilt bit for bit\n", r.Version, r.Commit, len(r.Checks), skipped)
	} else {
		fmt.Fprintf(&b, "FAIL release %s (%s): %d of %d checks failed\n", r.Version, r.Commit, fails, len(r.Checks))
	}
	return b.String()
}

// JSON renders the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Compare compares the reference dist want with the rebuilt dist got and names every
// difference: per image and platform the manifest, config and layers (a differing layer is
// opened and the differing files inside it named), then every compared file by path.
func Compare(want, got string) (*Report, error) {
	wr, err := LoadRecord(filepath.Join(want, RecordFile))
	if err != nil {
		return nil, err
	}
	gr, err := LoadRecord(filepath.Join(got, RecordFile))
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	r := &Report{Version: wr.Version, Commit: wr.Commit}
	add := func(c Check) { r.Checks = append(r.Checks, c) }

	gotImages := map[string]ImageRecord{}
	for _, im := range gr.Images {
		gotImages[im.Name] = im
	}
	// roles maps a blob path of dist/oci to what it is, to explain same-path differences.
	roles := map[string]string{}
	for _, wi := range wr.Images {
		gi, ok := gotImages[wi.Name]
		if !ok {
			add(Check{Name: "image " + wi.Name, Detail: "missing from the rebuild"})
			continue
		}
		roles[blobPath(wi.Index)] = "index of image " + wi.Name
		add(Check{Name: "image " + wi.Name + " index", Pass: wi.Index == gi.Index, Detail: fmt.Sprintf("index %s, rebuilt %s", wi.Index, gi.Index)})
		gotPlat := map[string]PlatformRecord{}
		for _, p := range gi.Platforms {
			gotPlat[p.Platform] = p
		}
		for _, wp := range wi.Platforms {
			name := "image " + wi.Name + " " + wp.Platform
			gp, ok := gotPlat[wp.Platform]
			if !ok {
				add(Check{Name: name, Detail: "platform missing from the rebuild"})
				continue
			}
			roles[blobPath(wp.Manifest)] = name + " manifest"
			roles[blobPath(wp.Config)] = name + " config"
			add(Check{Name: name + " manifest", Pass: wp.Manifest == gp.Manifest, Detail: fmt.Sprintf("manifest %s, rebuilt %s", wp.Manifest, gp.Manifest)})
			add(Check{Name: name + " config", Pass: wp.Config == gp.Config, Detail: fmt.Sprintf("config %s, rebuilt %s", wp.Config, gp.Config)})
			add(Check{Name: name + " binary " + wp.Binary.Path, Pass: wp.Binary == gp.Binary, Detail: fmt.Sprintf("sha256 %s, rebuilt %s", wp.Binary.SHA256, gp.Binary.SHA256)})
			for i, wl := range wp.Layers {
				lname := fmt.Sprintf("%s layer %d", name, i)
				roles[blobPath(wl)] = lname
				if i >= len(gp.Layers) {
					add(Check{Name: lname, Detail: "layer missing from the rebuild"})
					continue
				}
				if wl == gp.Layers[i] {
					add(Check{Name: lname, Pass: true})
					continue
				}
				detail := fmt.Sprintf("layer %s, rebuilt %s", wl, gp.Layers[i])
				files, err := diffLayers(filepath.Join(want, "oci", blobPath(wl)), filepath.Join(got, "oci", blobPath(gp.Layers[i])))
				if err != nil {
					detail += "; " + err.Error()
				} else {
					detail += "; differing files: " + strings.Join(files, ", ")
				}
				add(Check{Name: lname, Detail: detail})
			}
		}
	}

	wf, err := listFiles(want)
	if err != nil {
		return nil, err
	}
	gf, err := listFiles(got)
	if err != nil {
		return nil, err
	}
	all := map[string]bool{}
	for p := range wf {
		all[p] = true
	}
	for p := range gf {
		all[p] = true
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, inWant := wf[p]
		g, inGot := gf[p]
		switch {
		case !inGot:
			add(Check{Name: p, Detail: "in dist/ but not in the rebuild"})
		case !inWant:
			add(Check{Name: p, Detail: "in the rebuild but not in dist/"})
		case w == g:
			add(Check{Name: p, Pass: true})
		default:
			detail := fmt.Sprintf("sha256 %s, rebuilt %s", w, g)
			if rel, ok := strings.CutPrefix(p, "oci/"); ok && roles[rel] != "" {
				detail = roles[rel] + ": " + detail
				if strings.Contains(roles[rel], " layer ") {
					if files, err := diffLayers(filepath.Join(want, p), filepath.Join(got, p)); err == nil {
						detail += "; differing files: " + strings.Join(files, ", ")
					} else {
						detail += "; " + err.Error()
					}
				}
			}
			add(Check{Name: p, Detail: detail})
		}
	}
	r.Pass = true
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.Pass
	}
	return r, nil
}

// blobPath is the layout path of a digest "sha256:<hex>".
func blobPath(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return "blobs/" + alg + "/" + hex
}

// listFiles returns the Compared files below dist: relative path -> hex SHA-256.
func listFiles(dist string) (map[string]string, error) {
	files := map[string]string{}
	for _, top := range Compared {
		root := filepath.Join(dist, top)
		if _, err := os.Stat(root); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dist, p)
			sum := sha256.Sum256(b)
			files[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", root, err)
		}
	}
	return files, nil
}

// tarEntry is what diffLayers compares of a layer entry.
type tarEntry struct {
	Header string
	SHA256 string
}

// diffLayers opens two gzip layers and names the entries that differ (content, mode,
// owner, mtime or presence).
func diffLayers(a, b string) ([]string, error) {
	ea, err := readLayer(a)
	if err != nil {
		return nil, err
	}
	eb, err := readLayer(b)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for n := range ea {
		names[n] = true
	}
	for n := range eb {
		names[n] = true
	}
	var diff []string
	for n := range names {
		x, okx := ea[n]
		y, oky := eb[n]
		switch {
		case !okx:
			diff = append(diff, n+" (only in the rebuild)")
		case !oky:
			diff = append(diff, n+" (only in dist/)")
		case x.SHA256 != y.SHA256:
			diff = append(diff, fmt.Sprintf("%s (content sha256 %s, rebuilt %s)", n, x.SHA256, y.SHA256))
		case x.Header != y.Header:
			diff = append(diff, fmt.Sprintf("%s (header %s, rebuilt %s)", n, x.Header, y.Header))
		}
	}
	sort.Strings(diff)
	if len(diff) == 0 {
		diff = []string{"none (same files; the tar or gzip encoding differs)"}
	}
	return diff, nil
}

func readLayer(p string) (map[string]tarEntry, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading layer: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompressing layer %s: %w", filepath.Base(p), err)
	}
	entries := map[string]tarEntry{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer %s: %w", filepath.Base(p), err)
		}
		hs := sha256.New()
		if _, err := io.Copy(hs, tr); err != nil {
			return nil, fmt.Errorf("reading layer %s entry %s: %w", filepath.Base(p), h.Name, err)
		}
		entries[h.Name] = tarEntry{
			Header: fmt.Sprintf("mode %o uid %d gid %d mtime %d type %c", h.Mode, h.Uid, h.Gid, h.ModTime.Unix(), h.Typeflag),
			SHA256: hex.EncodeToString(hs.Sum(nil)),
		}
	}
	return entries, nil
}

// Rebuild rebuilds the release described by rec from the module copy at moduleDir into
// dist. Verify calls it inside the clean room; cairn-release passes one that runs itself.
type Rebuild func(ctx context.Context, moduleDir, dist string, rec *Record) error

// VerifyOptions are the inputs of Verify.
type VerifyOptions struct {
	ModuleDir string  // the released module
	DistDir   string  // its dist/ (default ModuleDir/dist)
	WorkDir   string  // an empty directory for the clean room (a temp dir)
	Rebuild   Rebuild // runs the clean-room release
}

// Verify copies the module to a clean room (WorkDir/src, without dist/, .git and the
// local key store), rebuilds the release recorded in DistDir/release.json there, and
// compares the two with Compare.
func Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.DistDir == "" {
		o.DistDir = filepath.Join(o.ModuleDir, "dist")
	}
	rec, err := LoadRecord(filepath.Join(o.DistDir, RecordFile))
	if err != nil {
		return nil, fmt.Errorf("%w (run `go tool mage release` first)", err)
	}
	src := filepath.Join(o.WorkDir, "src")
	if err := copyTree(o.ModuleDir, src, o.DistDir); err != nil {
		return nil, fmt.Errorf("copying the module to the clean room: %w", err)
	}
	out := filepath.Join(o.WorkDir, "dist")
	if err := o.Rebuild(ctx, src, out, rec); err != nil {
		return nil, fmt.Errorf("rebuilding in the clean room: %w", err)
	}
	return Compare(o.DistDir, out)
}

// copyTree copies the module's input files (InputFiles) of src to dst: the regular files,
// with their executable bit, under the clean room's umask. Symlinks are not copied: a link
// could reach outside the clean room.
func copyTree(src, dst, dist string) error {
	files, err := InputFiles(src, dist)
	if err != nil {
		return err
	}
	for _, f := range files {
		if !f.Regular() {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(f.Rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o777); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f.Rel)))
		if err != nil {
			return err
		}
		mode := os.FileMode(0o666)
		if f.Kind == "exec" {
			mode = 0o777
		}
		if err := os.WriteFile(target, b, mode); err != nil {
			return err
		}
	}
	return nil
}
