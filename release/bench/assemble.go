package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
)

// Platforms are the release platforms (build.Targets), in index order.
var Platforms = func() []images.Platform {
	var ps []images.Platform
	for _, t := range build.Targets {
		ps = append(ps, images.Platform(t.Platform))
	}
	return ps
}()

// Service is one service's binaries, one per platform in Platforms order.
type Service struct {
	Spec     images.Spec
	Binaries []images.Binary
}

// LoadServices reads binDir/<platform dir>/<name> (the layout of dist/bin) for every
// service of the release, and returns them with their image specs.
func LoadServices(binDir, version, commit string) ([]Service, error) {
	var out []Service
	for _, s := range record.Services {
		svc, err := LoadService(binDir, s, version, commit)
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}

// LoadService reads one service's binaries from binDir (dist/bin layout).
func LoadService(binDir string, s record.Service, version, commit string) (Service, error) {
	svc := Service{Spec: images.Spec{Name: s.Name, Ports: s.Ports, DataDirs: s.DataDirs,
		Source: record.DefaultSource, Revision: commit, Version: version}}
	for _, p := range Platforms {
		b, err := os.ReadFile(filepath.Join(binDir, p.Dir(), s.Name))
		if err != nil {
			return Service{}, fmt.Errorf("reading binary: %w (want a built release: dist/bin layout)", err)
		}
		svc.Binaries = append(svc.Binaries, images.Binary{Platform: p, Data: b})
	}
	return svc, nil
}

// BinaryBytes is the total size of every binary.
func BinaryBytes(svcs []Service) int64 {
	var n int64
	for _, s := range svcs {
		for _, b := range s.Binaries {
			n += int64(len(b.Data))
		}
	}
	return n
}

// Assemble builds every service's index with no cache (every layer tarred, compressed and
// hashed), one after the other as a release does, and returns the time it took.
func Assemble(svcs []Service, epoch time.Time, c images.Compressor) ([]v1.ImageIndex, time.Duration, error) {
	start := time.Now()
	var idxs []v1.ImageIndex
	for _, s := range svcs {
		idx, err := images.Index(s.Spec, s.Binaries, epoch, images.WithCompressor(c))
		if err != nil {
			return nil, 0, fmt.Errorf("assembling %s: %w", s.Spec.Name, err)
		}
		idxs = append(idxs, idx)
	}
	return idxs, time.Since(start), nil
}

// PeakRSS returns this process's peak resident set size in bytes (VmHWM of
// /proc/self/status).
func PeakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("reading peak memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmHWM %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// LayerTars returns the uncompressed layer of every binary: the bytes the compressor sees.
func LayerTars(svcs []Service, epoch time.Time) ([][]byte, error) {
	var out [][]byte
	for _, s := range svcs {
		for _, b := range s.Binaries {
			t, err := images.LayerTar(s.Spec, b.Data, epoch)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// Gzip compresses each input with the gzip program at level (one process per input, as the
// layers are compressed one by one) and returns the total time and compressed size.
func Gzip(ctx context.Context, gzipPath string, level int, inputs [][]byte) (time.Duration, int64, error) {
	var d time.Duration
	var n int64
	for _, in := range inputs {
		cmd := exec.CommandContext(ctx, gzipPath, "-"+strconv.Itoa(level), "-c", "-n")
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, &errb
		start := time.Now()
		err := cmd.Run()
		d += time.Since(start)
		if err != nil {
			return d, n, fmt.Errorf("running %s: %w: %s", gzipPath, err, errb.String())
		}
		n += int64(out.Len())
	}
	return d, n, nil
}

// ImageSize is the size breakdown of one platform image.
type ImageSize struct {
	Service, Platform string
	// Binary is the binary; GzBinary the binary alone compressed by the same compressor.
	Binary, GzBinary int64
	// GzAligned is the binary compressed by the same compressor at the offset it has in the
	// layer (after as many zero bytes as the tar has before it): deflate's block boundaries
	// then fall where they fall in the layer. See AlignedOverhead.
	GzAligned int64
	// Layer, Config and Manifest are the blobs; IndexShare is the index divided by its
	// number of platforms.
	Layer, Config, Manifest, IndexShare int64
}

// Total is what the image costs to store: layer, config, manifest and its share of the index.
func (s ImageSize) Total() int64 { return s.Layer + s.Config + s.Manifest + s.IndexShare }

// Overhead is Total minus the compressed binary alone. It carries the noise of deflate's
// block splitting: the same bytes shifted by the tar's 2 KiB of headers compress to a size
// tens of KiB up or down.
func (s ImageSize) Overhead() int64 { return s.Total() - s.GzBinary }

// AlignedOverhead is Total minus the binary compressed at its offset in the layer: what the
// tar headers (instead of zeros), the tar trailer, the config, the manifest and the index
// share add, without the shift noise.
func (s ImageSize) AlignedOverhead() int64 { return s.Total() - s.GzAligned }

// Sizes measures every platform image of the assembled indexes (idxs in svcs order,
// assembled at epoch).
func Sizes(svcs []Service, idxs []v1.ImageIndex, epoch time.Time, level int) ([]ImageSize, error) {
	var out []ImageSize
	for i, s := range svcs {
		idx := idxs[i]
		raw, err := idx.RawManifest()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		share := int64(len(raw)) / int64(len(im.Manifests))
		for j, desc := range im.Manifests {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, err
			}
			m, err := img.Manifest()
			if err != nil {
				return nil, err
			}
			var layer int64
			for _, l := range m.Layers {
				layer += l.Size
			}
			bin := s.Binaries[j].Data
			gz, err := gzipSize(bin, level)
			if err != nil {
				return nil, err
			}
			tarball, err := images.LayerTar(s.Spec, bin, epoch)
			if err != nil {
				return nil, err
			}
			off := bytes.Index(tarball, bin[:min(len(bin), 4096)])
			if off < 0 {
				return nil, fmt.Errorf("%s %s: the binary is not in its layer tar", s.Spec.Name, s.Binaries[j].Platform)
			}
			aligned, err := gzipSize(append(make([]byte, off, off+len(bin)), bin...), level)
			if err != nil {
				return nil, err
			}
			out = append(out, ImageSize{
				Service: s.Spec.Name, Platform: s.Binaries[j].Platform.String(),
				Binary: int64(len(bin)), GzBinary: gz, GzAligned: aligned,
				Layer: layer, Config: m.Config.Size, Manifest: desc.Size, IndexShare: share,
			})
		}
	}
	return out, nil
}

// gzipSize is the size of b compressed by the layer compressor (klauspost gzip) at level
// with an empty header: the compressed binary alone, the floor of a layer.
func gzipSize(b []byte, level int) (int64, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return 0, err
	}
	if _, err := zw.Write(b); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}
