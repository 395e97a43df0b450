// Command cairn-audit verifies a Cairn image and traces it back to its sources, without mage:
// it checks the image's signatures and attestations with the release's public key, compares
// them with the Go build information of its binaries and, with --rebuild, rebuilds the
// provenance's commit and compares the index digest (package audit; audit.Audit lists the
// checks).
//
// Usage:
//
//	cairn-audit --key cosign.pub [--json] [--bundles DIR] [--verifier-key verifier.pub]
//	            [--rebuild [--repo DIR] [--vsa-key verifier.key [--vsa-out DIR]]]
//	            [--insecure] REF
//
// REF is a registry reference by tag or digest (ghcr.io/cairn-iot/things:v1.2.3,
// ...@sha256:...), or an OCI layout: oci:DIR, oci:DIR:NAME or a directory holding one
// (dist/cosign/things).
//
// Flags (one dash or two):
//
//	--key file           the release's cosign public key (default $COSIGN_PUBLIC_KEY; required)
//	--json               print the report as JSON instead of text
//	--bundles dir        for an OCI layout: read the Sigstore bundles of this directory
//	                     (dist/bundles/<svc>) instead of the layout's legacy tags
//	--verifier-key file  require a rebuild verdict (SLSA VSA v1, package vsa) on the index,
//	                     signed by this verifier's public key, and show it
//	--rebuild            check out the provenance's commit in a temporary git worktree of
//	                     --repo, rebuild it (`go run ./release/cmd/cairn-release -mode images`
//	                     with the Go version that commit's lock pins, audit.GitRebuilder) and
//	                     compare the index digest
//	--repo dir           the git repository to rebuild from (default .)
//	--vsa-key file       with --rebuild: when the rebuild matches, sign a rebuild verdict with
//	                     this cosign private key (default $CAIRN_VSA_KEY), which `push` attaches
//	--vsa-out dir        the verdict's directory: <svc>.intoto.json and <svc>.sigstore.json
//	                     (default .)
//	--insecure           allow a plain-HTTP registry
//
// The evidence is read from the Sigstore bundles (OCI 1.1 referrers) when a registry has
// them, else from cosign's legacy tags; for an OCI layout, from the legacy tags, or from the
// bundle files of --bundles; the report says which.
//
// Environment: COSIGN_PUBLIC_KEY and CAIRN_VSA_KEY (the defaults above), CAIRN_VSA_PASSWORD
// (the password of --vsa-key). Registry credentials come from go-containerregistry's default
// keychain: the Docker config (~/.docker/config.json, else $DOCKER_CONFIG/config.json) and its
// credential helpers, else podman's auth file ($REGISTRY_AUTH_FILE, containers/auth.json).
// --rebuild runs git
// and the go on PATH with this environment, less the variables that change how a program is
// compiled (goenv.Assembler), and GOTOOLCHAIN set to the commit's pinned Go, which the go
// command downloads if it must.
//
// Output: the report on standard output: the image, digest, commit, version, toolchain, where
// the evidence came from and the modules, then PASS or FAIL per check and a summary line (or
// all of it as JSON with --json). Errors, the rebuild's output and the names of the verdict
// files go to standard error. --rebuild works in a temporary directory and a temporary
// worktree of --repo, both removed after; --vsa-key writes the two verdict files into
// --vsa-out.
//
// Exit status: 0 when every check passes, 1 when one fails (its reason is printed) or the
// verdict cannot be written, 2 on usage errors (no REF, no key, --vsa-key without --rebuild,
// an unreadable key, a malformed reference).
package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/sign"
	"github.com/cairn-iot/cairn/release/vsa"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// flags are cairn-audit's options.
type flags struct {
	key, verifierKey, repo string
	bundles                string
	vsaKey, vsaOut         string
	asJSON, rebuild        bool
	insecure               bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("cairn-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	fs.StringVar(&f.key, "key", getenv("COSIGN_PUBLIC_KEY"), "cosign public key (default $COSIGN_PUBLIC_KEY)")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&f.rebuild, "rebuild", false, "rebuild the provenance's commit and compare the index digest")
	fs.StringVar(&f.repo, "repo", ".", "git repository to rebuild from (with --rebuild)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow a plain-HTTP registry")
	fs.StringVar(&f.bundles, "bundles", "", "for an OCI layout: read the Sigstore bundles of this directory (dist/bundles/<svc>) instead of the layout's legacy tags")
	fs.StringVar(&f.verifierKey, "verifier-key", "", "require a rebuild verdict signed by this verifier's public key, and show it")
	fs.StringVar(&f.vsaKey, "vsa-key", getenv("CAIRN_VSA_KEY"), "with --rebuild: sign a rebuild verdict (SLSA VSA) with this cosign key when the rebuild matches (password in CAIRN_VSA_PASSWORD)")
	fs.StringVar(&f.vsaOut, "vsa-out", ".", "directory of the verdict files (<svc>.intoto.json, <svc>.sigstore.json)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cairn-audit --key cosign.pub [--verifier-key verifier.pub] [--json] [--rebuild [--repo DIR] [--vsa-key verifier.key]] [--insecure] REF")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || f.key == "" || (f.vsaKey != "" && !f.rebuild) {
		fs.Usage()
		return 2
	}
	code, err := audit1(ctx, fs.Arg(0), f, stdout, stderr, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "cairn-audit:", err)
	}
	return code
}

func audit1(ctx context.Context, ref string, f flags, stdout, stderr io.Writer, getenv func(string) string) (int, error) {
	key, err := publicKey(f.key)
	if err != nil {
		return 2, err
	}
	o := audit.Options{Key: key, Bundles: f.bundles}
	if f.verifierKey != "" {
		if o.VerifierKey, err = publicKey(f.verifierKey); err != nil {
			return 2, err
		}
	}
	if f.insecure {
		o.NameOptions = append(o.NameOptions, name.Insecure)
	}
	if f.rebuild {
		o.Rebuild = audit.GitRebuilder(f.repo, stderr)
	}
	r, err := audit.Audit(ctx, ref, o)
	if err != nil {
		return 2, err
	}
	if f.asJSON {
		err = r.JSON(stdout)
	} else {
		err = r.Text(stdout)
	}
	if err != nil {
		return 1, err
	}
	if !r.Pass {
		return 1, errors.New("FAIL")
	}
	if f.vsaKey != "" {
		files, err := writeVerdict(r, f.vsaKey, f.vsaOut, []byte(getenv("CAIRN_VSA_PASSWORD")), time.Now())
		if err != nil {
			return 1, err
		}
		for _, file := range files {
			fmt.Fprintln(stderr, "cairn-audit: rebuild verdict", file)
		}
	}
	return 0, nil
}

// verifierID names cairn-audit as the verifier of the verdicts it signs.
const verifierID = "https://github.com/cairn-iot/cairn/release/cmd/cairn-audit"

// writeVerdict signs r's rebuild verdict with the cosign key in keyFile and writes it into
// dir as a DSSE envelope and as a Sigstore bundle, the files push takes.
func writeVerdict(r *audit.Report, keyFile, dir string, password []byte, now time.Time) ([]string, error) {
	v, err := r.RebuildVerdict(verifierID, now)
	if err != nil {
		return nil, err
	}
	key, err := vsa.LoadKey(keyFile, password)
	if err != nil {
		return nil, err
	}
	return v.Write(key, dir)
}

func publicKey(file string) (*ecdsa.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	key, err := sign.ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}
