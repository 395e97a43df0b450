package packages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Deb describes a Debian binary package.
type Deb struct {
	Name, Version, Arch string
	// ArchVariant is written as Architecture-Variant if set (nfpm's amd64v1 for GOAMD64=v1).
	ArchVariant                                      string
	Section, Priority, License, Maintainer, Homepage string
	Depends                                          []string
	// Description is the synopsis, a newline, and the long description.
	Description string
	// Files are installed at their Name, an absolute path; Config ones are conffiles.
	Files []DebFile
	// Scripts maps a maintainer script's name (postinst, prerm, postrm, ...) to its source.
	Scripts map[string]string
	MTime   time.Time
}

// DebFile is a file the package installs.
type DebFile struct {
	File
	Config bool
}

// writeDeb writes d as nfpm v2.45 writes a .deb (the packages goreleaser makes): an ar
// archive of debian-binary, control.tar.gz and data.tar.gz; GNU tar headers; every parent
// directory of a file as its own entry, sorted; md5sums over the files; the same bytes for
// the same package.
func writeDeb(w io.Writer, d Deb) error {
	data, md5sums, size, err := debData(d)
	if err != nil {
		return err
	}
	control, err := debControl(d, md5sums, size)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.gz", data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, d.MTime.Unix(), 0, 0, "100644", len(m.body))
		b.Write(m.body)
		if len(m.body)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	_, err = w.Write(b.Bytes())
	return err
}

// debData returns data.tar.gz, the md5sums file and the installed size in bytes.
func debData(d Deb) (data, md5sums []byte, size int64, err error) {
	type entry struct {
		dir string // a directory's path, or "" for files[i]
		i   int
	}
	var entries []entry
	dirs := map[string]bool{}
	for i, f := range d.Files {
		if !path.IsAbs(f.Name) {
			return nil, nil, 0, fmt.Errorf("package %s: %s is not an absolute path", d.Name, f.Name)
		}
		entries = append(entries, entry{i: i})
		for dir := path.Dir(f.Name); dir != "/" && !dirs[dir]; dir = path.Dir(dir) {
			dirs[dir] = true
			entries = append(entries, entry{dir: dir})
		}
	}
	name := func(e entry) string {
		if e.dir != "" {
			return e.dir
		}
		return d.Files[e.i].Name
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(name(a), name(b)) })

	var buf, sums bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, nil, 0, err
	}
	tw := tar.NewWriter(gz)
	base := tar.Header{Uname: "root", Gname: "root", ModTime: d.MTime, Format: tar.FormatGNU}
	for _, e := range entries {
		if e.dir != "" {
			h := base
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, "."+e.dir+"/", 0o755
			if err := tw.WriteHeader(&h); err != nil {
				return nil, nil, 0, err
			}
			continue
		}
		f := d.Files[e.i].File
		f.Name = "." + f.Name
		sum := md5.New()
		n, err := addFile(tw, f, base, sum)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("package %s: %w", d.Name, err)
		}
		size += n
		fmt.Fprintf(&sums, "%x  %s\n", sum.Sum(nil), f.Name)
	}
	if err := tw.Close(); err != nil {
		return nil, nil, 0, err
	}
	if err := gz.Close(); err != nil {
		return nil, nil, 0, err
	}
	return buf.Bytes(), sums.Bytes(), size, nil
}

// debControl returns control.tar.gz: control, md5sums, conffiles and the maintainer scripts
// (sorted by name).
func debControl(d Deb, md5sums []byte, size int64) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, mode int64, body []byte) error {
		h := tar.Header{Typeflag: tar.TypeReg, Name: "./" + name, Mode: mode, Size: int64(len(body)), ModTime: d.MTime, Format: tar.FormatGNU}
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := add("control", 0o644, controlFile(d, size)); err != nil {
		return nil, err
	}
	if err := add("md5sums", 0o644, md5sums); err != nil {
		return nil, err
	}
	var conf strings.Builder
	for _, f := range d.Files {
		if f.Config {
			conf.WriteString(f.Name + "\n")
		}
	}
	if conf.Len() > 0 {
		if err := add("conffiles", 0o644, []byte(conf.String())); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Scripts)) {
		body, err := os.ReadFile(d.Scripts[name])
		if err != nil {
			return nil, fmt.Errorf("package %s: maintainer script %s: %w", d.Name, name, err)
		}
		if err := add(name, 0o755, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// controlFile is the package's control file. The installed size is in KiB, rounded down.
func controlFile(d Deb, size int64) []byte {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", d.Name)
	field("Version", d.Version)
	field("Section", d.Section)
	field("Priority", d.Priority)
	field("Architecture", d.Arch)
	field("Architecture-Variant", d.ArchVariant)
	field("License", d.License)
	field("Maintainer", d.Maintainer)
	field("Installed-Size", fmt.Sprint(size/1024))
	field("Depends", strings.Join(d.Depends, ", "))
	field("Homepage", d.Homepage)
	lines := strings.Split(strings.TrimSpace(d.Description), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if i > 0 && l == "" {
			l = "."
		}
		lines[i] = l
	}
	field("Description", strings.Join(lines, "\n "))
	return []byte(b.String())
}
