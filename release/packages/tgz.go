package packages

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"time"
)

// File is one regular file to put in an archive or a package: Source on disk, written as
// Name with Mode, owned by root:root.
type File struct {
	Name   string
	Source string
	Mode   int64
}

// writeTarGz writes files, in order, as the tar.gz archives goreleaser writes: ustar headers
// with uid and gid 0 and the names "root", the given mtime, gzip at best compression with no
// name and no time in its header. The same files give the same bytes as goreleaser v2.14.
func writeTarGz(w io.Writer, files []File, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if _, err := addFile(tw, f, tar.Header{Uname: "root", Gname: "root", ModTime: mtime}, io.Discard); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// addFile writes f into tw with the fields of base (owner, times, format) and f's name,
// mode and size, and its content to also (a hash); it returns the size. It copies exactly the size it stat'ed: a
// file that changes meanwhile is an error, not a short or long entry.
func addFile(tw *tar.Writer, f File, base tar.Header, also io.Writer) (int64, error) {
	src, err := os.Open(f.Source)
	if err != nil {
		return 0, fmt.Errorf("adding %s: %w", f.Name, err)
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return 0, fmt.Errorf("adding %s: %w", f.Name, err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("adding %s: %s is a %s, want a regular file", f.Name, f.Source, info.Mode().Type())
	}
	h := base
	h.Typeflag = tar.TypeReg
	h.Name, h.Mode, h.Size = f.Name, f.Mode, info.Size()
	if err := tw.WriteHeader(&h); err != nil {
		return 0, fmt.Errorf("adding %s: %w", f.Name, err)
	}
	if n, err := io.Copy(io.MultiWriter(tw, also), src); err != nil {
		return 0, fmt.Errorf("adding %s: %w", f.Name, err)
	} else if n != h.Size {
		return 0, fmt.Errorf("adding %s: %s changed while it was read (%d bytes, then %d): was a build still writing it?", f.Name, f.Source, h.Size, n)
	}
	return h.Size, nil
}
