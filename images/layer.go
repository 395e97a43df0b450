package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Modes of the layer's entries: fixed, never taken from a file system.
const (
	dirMode     = 0o755
	binaryMode  = 0o755
	dataDirMode = 0o750
)

// LayerTar returns the uncompressed layer of spec holding bin: the binary at
// /usr/local/bin/<Name> (mode 0755, owner 0:0), each of spec.DataDirs a directory owned by
// the run-time user (65532:65532, mode 0750), every parent directory its own entry (mode
// 0755, owner 0:0). Entries are sorted by name, with no user or group names and every mtime
// = epoch. The format is USTAR, not PAX or GNU: the paths are short, and USTAR has no place
// for atime/ctime or extended records that could leak build-host state.
func LayerTar(spec Spec, bin []byte, epoch time.Time) ([]byte, error) {
	type entry struct {
		hdr  tar.Header
		data []byte
	}
	entries := map[string]entry{}
	addDirs := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			name := strings.TrimPrefix(d, "/") + "/"
			if _, ok := entries[name]; !ok {
				entries[name] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: dirMode}}
			}
		}
	}
	binPath := path.Join(BinDir, spec.Name)
	addDirs(binPath)
	entries[strings.TrimPrefix(binPath, "/")] = entry{
		hdr:  tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(binPath, "/"), Mode: binaryMode, Size: int64(len(bin))},
		data: bin,
	}
	for _, d := range spec.DataDirs {
		addDirs(d)
		name := strings.TrimPrefix(d, "/") + "/"
		entries[name] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: dataDirMode, Uid: runUID, Gid: runGID}}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names) // never range over the map to write
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		h := e.hdr
		h.ModTime = epoch
		h.Format = tar.FormatUSTAR
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("writing tar header %s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing tar entry %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}

// compress gzips b with klauspost/compress at level, with an empty header.
func compress(b []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, fmt.Errorf("creating gzip writer: %w", err)
	}
	// The header stays empty: no file name, no mtime (zero), OS byte fixed by the library.
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	return buf.Bytes(), nil
}

func decompress(b []byte) (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompressing layer: %w", err)
	}
	return zr, nil
}
