package packages

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Output file names beside the archives and packages.
const (
	ChecksumsFile = "checksums.txt"
	SignatureFile = "checksums.txt.sig"
	PublicKeyFile = "cosign.pub"
	ChangelogFile = "CHANGELOG.md"
)

// Config says what to package and where. Every field but Logf is required.
type Config struct {
	// ModuleDir holds LICENSE, README.md (optional), packaging/ and the git repository the
	// changelog is read from.
	ModuleDir string
	// BinDir is the release's dist/bin: <platform>/<binary>.
	BinDir string
	// Binaries are the archives' binaries, in order; the package installs "cairn".
	Binaries []string
	// Version is the release version (PackageVersion makes the packages' one).
	Version string
	// Epoch is every mtime written.
	Epoch time.Time
	// Out is the directory to create. It must not exist.
	Out string
	// Signer signs checksums.txt (the release's ECDSA P-256 key).
	Signer crypto.Signer
	// GitEnv is the whole environment git runs with for the changelog.
	GitEnv []string
	// Logf, if set, is told when each file is done and how long it took.
	Logf func(format string, args ...any)
}

// Artifact is one file of the output with its SHA-256 (hex), as in checksums.txt.
type Artifact struct {
	Name   string
	SHA256 string
}

// Write makes, in a temporary sibling of c.Out renamed into place when all are written:
//
//   - cairn_<version>_<platform>.tar.gz per platform (Platforms: linux/amd64, linux/arm/v7)
//     with LICENSE, README.md (if there is one) and c.Binaries;
//   - a .deb per Debian architecture (amd64, armhf) that installs the all-in-one
//     /usr/bin/cairn with a systemd unit;
//   - checksums.txt over them, its signature checksums.txt.sig (SignBlob, c.Signer), the
//     public key cosign.pub, and CHANGELOG.md (Changelog).
//
// It returns the artifacts of checksums.txt. <version> is PackageVersion's.
//
// The files are byte for byte those goreleaser v2.14 (tar.gz) and its nfpm v2.45 (.deb) make
// from .goreleaser.yaml, which CI publishes a tag with (release/goreleaser), so what is
// published is what the release wrote; test/packages runs goreleaser's snapshot on a fixture
// and compares. Writing them here keeps goreleaser, whose first build compiles about 1.7 GB
// of modules, off a release's path. A change to the archives or packages goes into both
// .goreleaser.yaml and spec.go.
//
// Reproducible: every mtime is c.Epoch; owners are root:root (uid and gid 0); modes are
// fixed; gzip headers carry no name and no time; entries are in a fixed order (archives:
// LICENSE, README.md, then c.Binaries in order; packages: sorted, every parent directory its
// own entry). Two runs give the same checksums.txt. Each file's SHA-256 is computed as it is
// written; a binary that changes while it is read is an error.
//
// The .deb depends on adduser. postinst creates the cairn system user and /var/lib/cairn
// (0750 cairn:cairn), enables and starts cairn.service on first install and try-restarts it
// on upgrade. The data directory is not in the package's file list, so upgrades and remove
// keep it; purge deletes it and keeps the user, as Debian recommends. /etc/default/cairn is
// a conffile. The package's version is DebVersion(PackageVersion(version)).
func Write(ctx context.Context, c Config) ([]Artifact, error) {
	if c.ModuleDir == "" || c.BinDir == "" || len(c.Binaries) == 0 || c.Version == "" || c.Epoch.IsZero() || c.Out == "" || c.Signer == nil {
		return nil, errors.New("packages: Config needs ModuleDir, BinDir, Binaries, Version, Epoch, Out and Signer")
	}
	logf := c.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if _, err := os.Lstat(c.Out); err == nil {
		return nil, fmt.Errorf("packages: %s already exists, want a directory to create: remove it first", c.Out)
	}
	arts, err := artifacts(c)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(c.Out), 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(filepath.Dir(c.Out), ".packages-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	sums := make([]Artifact, len(arts))
	errs := make([]error, len(arts))
	var wg sync.WaitGroup
	var mu sync.Mutex // one logf call at a time, counted in order
	done := 0
	for i, a := range arts {
		wg.Go(func() {
			start := time.Now()
			sums[i].Name = a.Name
			sums[i].SHA256, errs[i] = writeArtifact(ctx, filepath.Join(work, a.Name), a, c.Epoch.UTC())
			if errs[i] == nil {
				mu.Lock()
				done++
				logf("packages: %s (%d of %d) in %.1fs", a.Name, done, len(arts), time.Since(start).Seconds())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(sums, func(a, b Artifact) int { return strings.Compare(a.Name, b.Name) })
	if err := finish(ctx, c, work, sums); err != nil {
		return nil, err
	}
	if err := os.Rename(work, c.Out); err != nil {
		return nil, fmt.Errorf("moving packages into place: %w", err)
	}
	return sums, nil
}

// writeArtifact writes a to path and returns its SHA-256.
func writeArtifact(ctx context.Context, path string, a artifact, mtime time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if a.Deb != nil {
		err = writeDeb(w, *a.Deb)
	} else {
		err = writeTarGz(w, a.Files, mtime)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", a.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// finish writes checksums.txt (arts, sorted by name), its signature, the public key and the changelog into dir.
func finish(ctx context.Context, c Config, dir string, arts []Artifact) error {
	var sums bytes.Buffer
	for _, a := range arts {
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, a.Name)
	}
	sig, err := SignBlob(c.Signer, sums.Bytes())
	if err != nil {
		return err
	}
	pub, err := PublicKeyPEM(c.Signer.Public())
	if err != nil {
		return err
	}
	changelog, err := Changelog(ctx, c.ModuleDir, c.Version, c.GitEnv)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{ChecksumsFile: sums.Bytes(), SignatureFile: sig, PublicKeyFile: pub, ChangelogFile: changelog} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ParseChecksums parses a checksums.txt ("<sha256 hex>  <name>" per line).
func ParseChecksums(b []byte) ([]Artifact, error) {
	var arts []Artifact
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			return nil, fmt.Errorf("checksums line %d is %q, want \"<sha256 hex>  <file name>\"", i+1, line)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("checksums line %d: %q is not hex: %w", i+1, sum, err)
		}
		arts = append(arts, Artifact{Name: name, SHA256: sum})
	}
	if len(arts) == 0 {
		return nil, errors.New("checksums file is empty, want one line per archive and package")
	}
	return arts, nil
}
