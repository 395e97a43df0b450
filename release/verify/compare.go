package verify

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/cairn-iot/cairn/release/record"
)

// Compared lists what verify compares bit for bit below dist/: the binaries, the OCI layout,
// the archives and the record. Everything else (dist/cosign, dist/attestations,
// dist/packages, written by steps) is outside the reproducible core: signatures are
// randomised ECDSA and carry their own verification; `cairn-release verify` audits
// dist/cosign and dist/attestations after the comparison (Evidence).
var Compared = []string{"bin", "oci", "archives", record.File}

// Compare compares the reference dist want with the rebuilt dist got, bit for bit, and names
// every difference: per image and platform the manifest, config and layers (a differing
// layer is opened and the differing files inside it named), then every Compared file by
// path. Nothing is tolerated: one differing byte fails.
func Compare(want, got string) (*record.Report, error) {
	wr, err := record.Load(filepath.Join(want, record.File))
	if err != nil {
		return nil, err
	}
	gr, err := record.Load(filepath.Join(got, record.File))
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	c := &comparison{want: want, got: got, r: &record.Report{Version: wr.Version, Commit: wr.Commit}, roles: map[string]string{}}
	c.images(wr, gr)
	if err := c.files(); err != nil {
		return nil, err
	}
	c.r.Pass = true
	for _, ch := range c.r.Checks {
		c.r.Pass = c.r.Pass && ch.Pass
	}
	return c.r, nil
}

// comparison is one Compare: the two dist directories and the report being written.
type comparison struct {
	want, got string
	r         *record.Report
	// roles maps a blob path of dist/oci to what it is, to explain same-path differences.
	roles map[string]string
}

func (c *comparison) add(ch record.Check) { c.r.Checks = append(c.r.Checks, ch) }

// images compares the records image by image: index, then each platform.
func (c *comparison) images(wr, gr *record.Release) {
	gotImages := map[string]record.Image{}
	for _, im := range gr.Images {
		gotImages[im.Name] = im
	}
	for _, wi := range wr.Images {
		gi, ok := gotImages[wi.Name]
		if !ok {
			c.add(record.Check{Name: "image " + wi.Name, Detail: "missing from the rebuild"})
			continue
		}
		c.roles[blobPath(wi.Index)] = "index of image " + wi.Name
		c.add(record.Check{Name: "image " + wi.Name + " index", Pass: wi.Index == gi.Index, Detail: fmt.Sprintf("index %s, rebuilt %s", wi.Index, gi.Index)})
		gotPlat := map[string]record.Platform{}
		for _, p := range gi.Platforms {
			gotPlat[p.Platform] = p
		}
		for _, wp := range wi.Platforms {
			name := "image " + wi.Name + " " + wp.Platform
			gp, ok := gotPlat[wp.Platform]
			if !ok {
				c.add(record.Check{Name: name, Detail: "platform missing from the rebuild"})
				continue
			}
			c.platform(name, wp, gp)
		}
	}
}

// platform compares one platform's image: manifest, config, binary, then layer by layer.
func (c *comparison) platform(name string, wp, gp record.Platform) {
	c.roles[blobPath(wp.Manifest)] = name + " manifest"
	c.roles[blobPath(wp.Config)] = name + " config"
	c.add(record.Check{Name: name + " manifest", Pass: wp.Manifest == gp.Manifest, Detail: fmt.Sprintf("manifest %s, rebuilt %s", wp.Manifest, gp.Manifest)})
	c.add(record.Check{Name: name + " config", Pass: wp.Config == gp.Config, Detail: fmt.Sprintf("config %s, rebuilt %s", wp.Config, gp.Config)})
	c.add(record.Check{Name: name + " binary " + wp.Binary.Path, Pass: wp.Binary == gp.Binary, Detail: fmt.Sprintf("sha256 %s, rebuilt %s", wp.Binary.SHA256, gp.Binary.SHA256)})
	for i, wl := range wp.Layers {
		lname := fmt.Sprintf("%s layer %d", name, i)
		c.roles[blobPath(wl)] = lname
		if i >= len(gp.Layers) {
			c.add(record.Check{Name: lname, Detail: "layer missing from the rebuild"})
			continue
		}
		if wl == gp.Layers[i] {
			c.add(record.Check{Name: lname, Pass: true})
			continue
		}
		detail := fmt.Sprintf("layer %s, rebuilt %s", wl, gp.Layers[i])
		c.add(record.Check{Name: lname, Detail: detail + "; " + layerDiff(filepath.Join(c.want, "oci", blobPath(wl)), filepath.Join(c.got, "oci", blobPath(gp.Layers[i])))})
	}
}

// files compares every Compared file by path, naming what a differing blob is.
func (c *comparison) files() error {
	wf, err := listFiles(c.want)
	if err != nil {
		return err
	}
	gf, err := listFiles(c.got)
	if err != nil {
		return err
	}
	all := map[string]bool{}
	for p := range wf {
		all[p] = true
	}
	for p := range gf {
		all[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(all)) {
		w, inWant := wf[p]
		g, inGot := gf[p]
		switch {
		case !inGot:
			c.add(record.Check{Name: p, Detail: "in dist/ but not in the rebuild"})
		case !inWant:
			c.add(record.Check{Name: p, Detail: "in the rebuild but not in dist/"})
		case w == g:
			c.add(record.Check{Name: p, Pass: true})
		default:
			detail := fmt.Sprintf("sha256 %s, rebuilt %s", w, g)
			if rel, ok := strings.CutPrefix(p, "oci/"); ok && c.roles[rel] != "" {
				detail = c.roles[rel] + ": " + detail
				if strings.Contains(c.roles[rel], " layer ") {
					detail += "; " + layerDiff(filepath.Join(c.want, p), filepath.Join(c.got, p))
				}
			}
			c.add(record.Check{Name: p, Detail: detail})
		}
	}
	return nil
}

// layerDiff names the files that differ between two layer blobs, or why it cannot.
func layerDiff(a, b string) string {
	files, err := diffLayers(a, b)
	if err != nil {
		return err.Error()
	}
	return "differing files: " + strings.Join(files, ", ")
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
