package packages

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Platform is one target of the archives and packages: its dist/bin directory, the suffix
// of its archive's name and its Debian architecture.
type Platform struct {
	BinDir, Archive, DebArch, DebArchVariant string
}

// Platforms are Cairn's targets, as .goreleaser.yaml names them.
var Platforms = []Platform{
	{BinDir: "linux_amd64", Archive: "linux_amd64", DebArch: "amd64", DebArchVariant: "amd64v1"},
	{BinDir: "linux_arm_v7", Archive: "linux_armv7", DebArch: "armhf"},
}

// The Debian package's metadata and files, as the nfpms section of .goreleaser.yaml says.
const (
	debName        = "cairn"
	debBinary      = "cairn"
	debSection     = "net"
	debPriority    = "optional"
	debLicense     = "Apache-2.0"
	debMaintainer  = "Cairn maintainers <cairn@cairn-iot.dev>"
	debHomepage    = "https://github.com/cairn-iot/cairn"
	debDescription = `Cairn IoT messaging platform, all in one
 Users, things and channels with HTTP and MQTT adapters, an event log and a
 message store, in one static binary run by systemd as the cairn user.`
)

// artifact is one file to write: an archive (Files) or a package (Deb).
type artifact struct {
	Name  string
	Files []File
	Deb   *Deb
}

// artifacts lists what Write makes for c, in checksums.txt's order (by name).
func artifacts(c Config) ([]artifact, error) {
	docs := []File{{Name: "LICENSE", Source: filepath.Join(c.ModuleDir, "LICENSE"), Mode: 0o644}}
	// README.md is optional, as goreleaser's glob makes it.
	if _, err := os.Stat(filepath.Join(c.ModuleDir, "README.md")); err == nil {
		docs = append(docs, File{Name: "README.md", Source: filepath.Join(c.ModuleDir, "README.md"), Mode: 0o644})
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	version := PackageVersion(c.Version)
	var tgz, debs []artifact
	for _, p := range Platforms {
		files := append([]File(nil), docs...)
		for _, name := range c.Binaries {
			files = append(files, File{Name: name, Source: filepath.Join(c.BinDir, p.BinDir, name), Mode: 0o755})
		}
		tgz = append(tgz, artifact{Name: "cairn_" + version + "_" + p.Archive + ".tar.gz", Files: files})
		d := debFor(c, p)
		debs = append(debs, artifact{Name: d.Name + "_" + d.Version + "_" + d.Arch + ".deb", Deb: d})
	}
	return append(tgz, debs...), nil
}

func debFor(c Config, p Platform) *Deb {
	pkg := filepath.Join(c.ModuleDir, "packaging")
	doc := func(name, src string) DebFile {
		return DebFile{File: File{Name: name, Source: src, Mode: 0o644}}
	}
	conf := doc("/etc/default/cairn", filepath.Join(pkg, "cairn.default"))
	conf.Config = true
	return &Deb{
		Name: debName, Version: DebVersion(PackageVersion(c.Version)), Arch: p.DebArch, ArchVariant: p.DebArchVariant,
		Section: debSection, Priority: debPriority, License: debLicense, Maintainer: debMaintainer,
		Homepage: debHomepage, Depends: []string{"adduser"}, Description: debDescription,
		Files: []DebFile{
			{File: File{Name: "/usr/bin/cairn", Source: filepath.Join(c.BinDir, p.BinDir, debBinary), Mode: 0o755}},
			doc("/usr/lib/systemd/system/cairn.service", filepath.Join(pkg, "cairn.service")),
			conf,
			doc("/usr/share/doc/cairn/copyright", filepath.Join(c.ModuleDir, "LICENSE")),
		},
		Scripts: map[string]string{
			"postinst": filepath.Join(pkg, "postinst.sh"),
			"prerm":    filepath.Join(pkg, "prerm.sh"),
			"postrm":   filepath.Join(pkg, "postrm.sh"),
		},
		MTime: c.Epoch.UTC(),
	}
}

// PackageVersion turns a release version ("v0.1.0", "v0.1.0-3-gabc1234def56-dirty", or a bare
// 12-hex-digit commit "abc1234def56" where there is no tag, see release/source) into the
// version of the archives and packages: without the "v", and starting with a digit as Debian
// requires. A bare commit becomes "0.0.0-abc1234def56" (the package's version is then the
// pre-release 0.0.0~abc1234def56, see DebVersion), older than any tagged release, even when
// the hash starts with a digit.
func PackageVersion(v string) string {
	if bareCommit.MatchString(v) {
		return "0.0.0-" + v
	}
	s := strings.TrimPrefix(v, "v")
	if s == "" || s[0] < '0' || s[0] > '9' {
		s = "0.0.0-" + s
	}
	return s
}

// bareCommit matches what `git describe --tags --always --abbrev=12 --dirty` prints when no
// tag is reachable.
var bareCommit = regexp.MustCompile(`^[0-9a-f]{12,40}(-dirty)?$`)

// semver matches a version as nfpm's semver library reads it: one to three numbers, a
// pre-release and build metadata.
var semver = regexp.MustCompile(`^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$`)

// DebVersion is the Debian version of a package version, as nfpm writes it: a semantic
// version's pre-release after "~" (sorted before the release), its metadata after "+"; a
// version that is not semantic is kept as it is.
func DebVersion(v string) string {
	m := semver.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	var nums [3]uint64
	for i := range nums {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil || (len(m[i+1]) > 1 && m[i+1][0] == '0') {
			return v
		}
		nums[i] = n
	}
	for _, id := range strings.Split(m[4], ".") {
		if m[4] != "" && (id == "" || len(id) > 1 && id[0] == '0' && strings.Trim(id, "0123456789") == "") {
			return v
		}
	}
	s := strconv.FormatUint(nums[0], 10) + "." + strconv.FormatUint(nums[1], 10) + "." + strconv.FormatUint(nums[2], 10)
	if m[4] != "" {
		s += "~" + m[4]
	}
	if m[5] != "" {
		s += "+" + m[5]
	}
	return s
}
