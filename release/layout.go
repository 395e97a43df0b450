package release

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cairn-iot/cairn/images"
)

// ociLayoutFile is the content of an OCI layout's oci-layout file.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}` + "\n"

// namedIndex is one service's index with its ref name.
type namedIndex struct {
	Name  string
	Index v1.ImageIndex
}

// layoutFiles returns the files of an OCI image layout holding the indexes, each named by
// its ref.name annotation, in the order given: relative path -> content.
func layoutFiles(idxs []namedIndex) (map[string][]byte, error) {
	files := map[string][]byte{"oci-layout": []byte(ociLayoutFile)}
	blob := func(h v1.Hash, b []byte) {
		files[filepath.ToSlash(filepath.Join("blobs", h.Algorithm, h.Hex))] = b
	}
	top := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	for _, ni := range idxs {
		raw, err := ni.Index.RawManifest()
		if err != nil {
			return nil, err
		}
		d, err := ni.Index.Digest()
		if err != nil {
			return nil, err
		}
		blob(d, raw)
		top.Manifests = append(top.Manifests, v1.Descriptor{
			MediaType:   types.OCIImageIndex,
			Size:        int64(len(raw)),
			Digest:      d,
			Annotations: map[string]string{images.AnnotationRefName: ni.Name},
		})
		im, err := ni.Index.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, desc := range im.Manifests {
			img, err := ni.Index.Image(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s image %s: %w", ni.Name, desc.Digest, err)
			}
			m, err := img.RawManifest()
			if err != nil {
				return nil, err
			}
			blob(desc.Digest, m)
			cfgName, err := img.ConfigName()
			if err != nil {
				return nil, err
			}
			cfg, err := img.RawConfigFile()
			if err != nil {
				return nil, err
			}
			blob(cfgName, cfg)
			layers, err := img.Layers()
			if err != nil {
				return nil, err
			}
			for _, l := range layers {
				ld, err := l.Digest()
				if err != nil {
					return nil, err
				}
				rc, err := l.Compressed()
				if err != nil {
					return nil, err
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					return nil, fmt.Errorf("reading layer %s: %w", ld, err)
				}
				blob(ld, b)
			}
		}
	}
	raw, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("encoding index.json: %w", err)
	}
	files["index.json"] = append(raw, '\n')
	return files, nil
}

// sortedKeys returns m's keys in order: files are always written in this order.
func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeTree writes files below dir.
func writeTree(dir string, files map[string][]byte) error {
	for _, rel := range sortedKeys(files) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, files[rel], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// writeTar writes files as a deterministic USTAR archive: directories listed, entries
// sorted, owner 0:0 without names, modes 0755/0644, mtime = epoch.
func writeTar(w io.Writer, files map[string][]byte, epoch time.Time) error {
	all := map[string][]byte{}
	for rel, b := range files {
		all[rel] = b
		for d := filepath.ToSlash(filepath.Dir(rel)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
			all[d+"/"] = nil
		}
	}
	tw := tar.NewWriter(w)
	for _, rel := range sortedKeys(all) {
		h := &tar.Header{Name: rel, ModTime: epoch, Format: tar.FormatUSTAR, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(all[rel]))}
		if strings.HasSuffix(rel, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing tar header %s: %w", rel, err)
		}
		if _, err := tw.Write(all[rel]); err != nil {
			return fmt.Errorf("writing tar entry %s: %w", rel, err)
		}
	}
	return tw.Close()
}

// ociArchive returns the oci-archive of one index: its OCI layout as a tar.
func ociArchive(ni namedIndex, epoch time.Time) ([]byte, error) {
	files, err := layoutFiles([]namedIndex{ni})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, files, epoch); err != nil {
		return nil, fmt.Errorf("writing oci-archive of %s: %w", ni.Name, err)
	}
	return buf.Bytes(), nil
}

// dockerArchive returns the docker-archive (`docker load` format, single platform) of img,
// tagged repo:tag. go-containerregistry's tarball writer fixes the entry order and modes;
// its entries are then rewritten with mtime = epoch, owner 0:0 and USTAR format, like every
// other archive of the release.
func dockerArchive(repo, tag string, img v1.Image, epoch time.Time) ([]byte, error) {
	ref, err := name.NewTag(repo+":"+tag, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("tag %s:%s: %w (want a version usable as an image tag)", repo, tag, err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(ref, img, &buf); err != nil {
		return nil, fmt.Errorf("writing docker-archive of %s: %w", ref, err)
	}
	var out bytes.Buffer
	tr := tar.NewReader(&buf)
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("rewriting docker-archive of %s: %w", ref, err)
		}
		nh := &tar.Header{Name: h.Name, Typeflag: h.Typeflag, Mode: h.Mode, Size: h.Size, ModTime: epoch, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(nh); err != nil {
			return nil, fmt.Errorf("rewriting docker-archive of %s: %w", ref, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, fmt.Errorf("rewriting docker-archive of %s: %w", ref, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("rewriting docker-archive of %s: %w", ref, err)
	}
	return out.Bytes(), nil
}
