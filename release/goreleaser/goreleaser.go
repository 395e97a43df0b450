package goreleaser

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release/packages"
)

// ConfigFile is the goreleaser configuration, relative to the module directory.
const ConfigFile = ".goreleaser.yaml"

// ToolsModfile is the modfile that pins goreleaser and cosign, relative to the module directory.
const ToolsModfile = "lock/tools.mod"

// distLine is the line of ConfigFile that Snapshot and Publish replace with their own
// output directory: goreleaser's dist is not templated.
const distLine = "dist: dist/goreleaser"

// PublishPassthrough lists the variables Publish passes through on top of goenv.Passthrough
// (those of the release build, the only ones that reach goreleaser and its go builds): the
// forge token and the signing key of the stock cosign CLI.
var PublishPassthrough = []string{"GITHUB_TOKEN", "COSIGN_KEY", "COSIGN_PASSWORD"}

// Config says what to release and where. Every field but Tool and LookupEnv is required.
type Config struct {
	// ModuleDir is the repository root: .goreleaser.yaml, go.mod, packaging/, .git.
	ModuleDir string
	// GOROOT is the pinned toolchain (lock.Toolchain); its bin/go builds the binaries.
	GOROOT string
	// Version and Commit are the values the release build passes with -X.
	Version, Commit string
	// Epoch is the release's source date epoch: every mtime written.
	Epoch time.Time
	// BinDir is the release's dist/bin: linux_amd64/<svc> and linux_arm_v7/<svc>, which
	// goreleaser's builds must reproduce byte for byte.
	BinDir string
	// Out is the directory to create (dist/goreleaser in the staging directory). It must not
	// exist.
	Out string
	// Signer signs checksums.txt (an ECDSA P-256 key, the release's cosign key).
	Signer crypto.Signer

	// Tool is the command that runs goreleaser; by default
	// <GOROOT>/bin/go tool -modfile=<ModuleDir>/lock/tools.mod goreleaser.
	Tool []string
	// LookupEnv reads the caller's environment for goenv.Passthrough; by default os.LookupEnv.
	// It is the only place the environment is read.
	LookupEnv func(string) (string, bool)
}

func (c *Config) check() error {
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"ModuleDir", c.ModuleDir != ""},
		{"GOROOT", c.GOROOT != ""},
		{"Version", c.Version != ""},
		{"Commit", c.Commit != ""},
		{"Epoch", !c.Epoch.IsZero()},
		{"Out", c.Out != ""},
	} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("goreleaser: config is missing %s", strings.Join(missing, ", "))
	}
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	if len(c.Tool) == 0 {
		c.Tool = []string{filepath.Join(c.GOROOT, "bin", "go"), "tool",
			"-modfile=" + filepath.Join(c.ModuleDir, ToolsModfile), "goreleaser"}
	}
	return nil
}

// Env returns the whole environment goreleaser runs with, built from nothing, sorted: the
// release build's (goenv.Build without a target: CGO_ENABLED=0, GOTOOLCHAIN=local,
// GOFLAGS=-mod=readonly, GOWORK=off, GOENV=off, the leaky variables blanked, the caller's
// goenv.Passthrough values), the values .goreleaser.yaml reads (CAIRN_GO, CAIRN_VERSION,
// CAIRN_PKG_VERSION, CAIRN_COMMIT, SOURCE_DATE_EPOCH, CAIRN_MTIME), TZ=UTC, and PATH with
// the pinned toolchain's bin first. extra names more variables to pass through from the caller (Publish's secrets,
// PublishPassthrough).
func Env(c Config, extra ...string) []string {
	lookup := c.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := map[string]string{}
	// The release build's environment without a target (goreleaser adds GOOS, GOARCH,
	// GOAMD64=v1 and GOARM=7 per target), with the caller's passthrough values.
	for _, kv := range goenv.Build(nil, goenv.Pick(lookup)) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range map[string]string{
		// What .goreleaser.yaml reads.
		"CAIRN_GO":          filepath.Join(c.GOROOT, "bin", "go"),
		"CAIRN_VERSION":     c.Version,
		"CAIRN_PKG_VERSION": packages.PackageVersion(c.Version),
		"CAIRN_COMMIT":      c.Commit,
		"SOURCE_DATE_EPOCH": strconv.FormatInt(c.Epoch.Unix(), 10),
		"CAIRN_MTIME":       c.Epoch.UTC().Format(time.RFC3339),
		// No local time zone in anything goreleaser or git prints.
		"TZ": "UTC",
	} {
		env[k] = v
	}
	for _, k := range extra {
		if v, ok := lookup(k); ok {
			env[k] = v
		}
	}
	// The pinned toolchain first on PATH: a `go` that goreleaser runs by name (the signs
	// command, which goreleaser does not template) is the pinned one.
	env["PATH"] = strings.TrimSuffix(filepath.Join(c.GOROOT, "bin")+string(os.PathListSeparator)+env["PATH"], string(os.PathListSeparator))
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// RewriteDist returns config with its `dist: dist/goreleaser` line replaced by dist.
func RewriteDist(config []byte, dist string) ([]byte, error) {
	lines := strings.Split(string(config), "\n")
	n := 0
	for i, l := range lines {
		if strings.TrimRight(l, " \r") == distLine {
			lines[i] = "dist: '" + strings.ReplaceAll(dist, "'", "''") + "'"
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("goreleaser: %s has %d lines %q, want exactly 1: keep that line as it is, the release replaces it with its staging directory", ConfigFile, n, distLine)
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// Snapshot runs goreleaser in snapshot mode, checks its binaries against c.BinDir, signs
// checksums.txt and writes CHANGELOG.md, and creates c.Out with the result: what Publish
// would upload, to compare with dist/packages. It returns the artifacts of checksums.txt.
func Snapshot(ctx context.Context, c Config) ([]packages.Artifact, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.BinDir == "" || c.Signer == nil {
		return nil, errors.New("goreleaser: a snapshot needs BinDir (dist/bin to compare with) and Signer (the release key)")
	}
	if _, err := os.Lstat(c.Out); err == nil {
		return nil, fmt.Errorf("goreleaser: %s already exists, want a directory to create: remove it first", c.Out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("checking output directory: %w", err)
	}
	parent := filepath.Dir(c.Out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating output parent: %w", err)
	}
	work, err := os.MkdirTemp(parent, ".goreleaser-")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)

	dist := filepath.Join(work, "dist")
	if err := run(ctx, c, dist, nil, "release", "--snapshot", "--skip=sign"); err != nil {
		return nil, err
	}
	if err := CompareBinaries(c.ModuleDir, dist, c.BinDir); err != nil {
		return nil, err
	}

	out := filepath.Join(work, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, fmt.Errorf("creating output: %w", err)
	}
	sums, err := os.ReadFile(filepath.Join(dist, packages.ChecksumsFile))
	if err != nil {
		return nil, fmt.Errorf("reading goreleaser's checksums: %w", err)
	}
	arts, err := packages.ParseChecksums(sums)
	if err != nil {
		return nil, err
	}
	for _, a := range arts {
		if err := moveChecked(filepath.Join(dist, a.Name), filepath.Join(out, a.Name), a.SHA256); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(out, packages.ChecksumsFile), sums, 0o644); err != nil {
		return nil, fmt.Errorf("writing checksums: %w", err)
	}
	sig, err := packages.SignBlob(c.Signer, sums)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, packages.SignatureFile), sig, 0o644); err != nil {
		return nil, fmt.Errorf("writing checksums signature: %w", err)
	}
	pub, err := packages.PublicKeyPEM(c.Signer.Public())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, packages.PublicKeyFile), pub, 0o644); err != nil {
		return nil, fmt.Errorf("writing public key: %w", err)
	}
	changelog, err := packages.Changelog(ctx, c.ModuleDir, c.Version, Env(c))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, packages.ChangelogFile), changelog, 0o644); err != nil {
		return nil, fmt.Errorf("writing changelog: %w", err)
	}
	if err := os.Rename(out, c.Out); err != nil {
		return nil, fmt.Errorf("moving output into place: %w", err)
	}
	return arts, nil
}

// Publish runs goreleaser in release mode for the tag at HEAD: it builds every binary with
// the pinned toolchain and the exact flags of the release build, packages, signs
// checksums.txt with the stock cosign CLI (`go tool -modfile=lock/tools.mod cosign
// sign-blob`, COSIGN_KEY and COSIGN_PASSWORD: the format package packages writes; the pinned
// go is first on PATH because goreleaser does not template the signing command), writes
// goreleaser's changelog and uploads to the GitHub release (GITHUB_TOKEN). c.Out receives
// goreleaser's dist. goreleaser builds and uploads in one command, so the binaries are
// compared with c.BinDir (if set; CompareBinaries) only after the upload; one differing byte
// is still an error, and fails the CI job. skip is passed to goreleaser's --skip (e.g.
// "publish", "announce" for a dry run that signs but uploads nothing). goreleaser runs with
// --parallelism 1, so that its archives list the binaries in the config's order.
func Publish(ctx context.Context, c Config, skip ...string) error {
	if err := c.check(); err != nil {
		return err
	}
	if _, err := os.Lstat(c.Out); err == nil {
		return fmt.Errorf("goreleaser: %s already exists, want a directory to create: remove it first", c.Out)
	}
	args := []string{"release"}
	if len(skip) > 0 {
		args = append(args, "--skip="+strings.Join(skip, ","))
	}
	if err := run(ctx, c, c.Out, PublishPassthrough, args...); err != nil {
		return err
	}
	if c.BinDir != "" {
		return CompareBinaries(c.ModuleDir, c.Out, c.BinDir)
	}
	return nil
}

// run runs goreleaser with args and a copy of the config whose dist is dist.
func run(ctx context.Context, c Config, dist string, extraEnv []string, args ...string) error {
	config, err := os.ReadFile(filepath.Join(c.ModuleDir, ConfigFile))
	if err != nil {
		return fmt.Errorf("reading goreleaser config: %w", err)
	}
	config, err = RewriteDist(config, dist)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "cairn-goreleaser-config-")
	if err != nil {
		return fmt.Errorf("writing goreleaser config: %w", err)
	}
	defer os.RemoveAll(tmp)
	cfgFile := filepath.Join(tmp, "goreleaser.yaml")
	if err := os.WriteFile(cfgFile, config, 0o644); err != nil {
		return fmt.Errorf("writing goreleaser config: %w", err)
	}
	argv := append(slices.Clone(c.Tool[1:]), args...)
	// --parallelism 1: goreleaser adds a binary to the archive in the order its build
	// finishes, so parallel builds could order the tar entries differently from run to run.
	// One at a time, they follow the config's order; each go build is parallel inside.
	argv = append(argv, "--config", cfgFile, "--parallelism", "1")
	cmd := exec.CommandContext(ctx, c.Tool[0], argv...)
	cmd.Dir = c.ModuleDir
	cmd.Env = Env(c, extraEnv...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running goreleaser %s: %w\n%s", strings.Join(args, " "), err, tail(buf.String(), 4000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// binaryArtifact is the part of an entry of goreleaser's artifacts.json that locates a binary.
type binaryArtifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
	Goarm  string `json:"goarm"`
	Type   string `json:"type"`
}

// platformDir maps goreleaser's target to the directory of dist/bin.
func platformDir(a binaryArtifact) (string, error) {
	switch {
	case a.Goos == "linux" && a.Goarch == "amd64":
		return "linux_amd64", nil
	case a.Goos == "linux" && a.Goarch == "arm" && a.Goarm == "7":
		return "linux_arm_v7", nil
	}
	return "", fmt.Errorf("goreleaser built %s for %s/%s/%s, want only linux/amd64 and linux/arm/v7: fix the targets in %s", a.Name, a.Goos, a.Goarch, a.Goarm, ConfigFile)
}

// CompareBinaries checks that the binaries goreleaser built into dist (as listed in its
// artifacts.json) are exactly the files of binDir (<platform>/<name>): the same set, and the
// same bytes. goreleaser records a relative artifact path relative to its working directory,
// workDir (the module directory it ran in).
func CompareBinaries(workDir, dist, binDir string) error {
	b, err := os.ReadFile(filepath.Join(dist, "artifacts.json"))
	if err != nil {
		return fmt.Errorf("reading goreleaser's artifacts: %w", err)
	}
	var all []binaryArtifact
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("parsing goreleaser's artifacts: %w", err)
	}
	built := map[string]string{} // platform/name -> path
	for _, a := range all {
		if a.Type != "Binary" {
			continue
		}
		dir, err := platformDir(a)
		if err != nil {
			return err
		}
		p := a.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(workDir, p)
		}
		built[dir+"/"+a.Name] = p
	}
	want := map[string]string{}
	for _, dir := range []string{"linux_amd64", "linux_arm_v7"} {
		entries, err := os.ReadDir(filepath.Join(binDir, dir))
		if err != nil {
			return fmt.Errorf("reading release binaries: %w", err)
		}
		for _, e := range entries {
			want[dir+"/"+e.Name()] = filepath.Join(binDir, dir, e.Name())
		}
	}
	var problems []string
	for _, k := range sortedKeys(want) {
		got, ok := built[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: in dist/bin, not built by goreleaser (add it to the builds of %s)", k, ConfigFile))
			continue
		}
		ws, err := fileSHA256(want[k])
		if err != nil {
			return err
		}
		gs, err := fileSHA256(got)
		if err != nil {
			return err
		}
		if ws != gs {
			problems = append(problems, fmt.Sprintf("%s: goreleaser built sha256:%s, dist/bin has sha256:%s", k, gs, ws))
		}
	}
	for _, k := range sortedKeys(built) {
		if _, ok := want[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s: built by goreleaser, not in dist/bin (a service missing from the release's table?)", k))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("goreleaser's binaries are not the release's: the build flags or environment in %s differ from the release build; compare `go version -m` of both:\n  %s", ConfigFile, strings.Join(problems, "\n  "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// moveChecked moves src to dst after checking its SHA-256.
func moveChecked(src, dst, sum string) error {
	got, err := fileSHA256(src)
	if err != nil {
		return err
	}
	if got != sum {
		return fmt.Errorf("%s has sha256:%s, checksums.txt says sha256:%s", filepath.Base(src), got, sum)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("moving %s: %w", filepath.Base(src), err)
	}
	return nil
}
