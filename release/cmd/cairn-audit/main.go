// Command cairn-audit verifies a Cairn image and traces it back to its sources, without mage:
//
//	cairn-audit --key cosign.pub [--verifier-key verifier.pub] [--json] [--rebuild [--repo DIR]] [--insecure] REF
//
// REF is a registry reference by tag or digest (ghcr.io/cairn-iot/things:v1.2.3,
// ...@sha256:...), or an OCI layout: oci:DIR, oci:DIR:NAME or a directory holding one
// (dist/cosign/things). --key defaults to $COSIGN_PUBLIC_KEY. Registry credentials come from
// the Docker config and its credential helpers.
//
// It checks the signature and the SBOM and provenance attestations of the index and of each
// platform image against the key and the image's digest, opens each platform's layers and
// compares the Go build information of the binaries with the SBOM and the provenance, and
// with --rebuild checks out the provenance's commit in a temporary worktree of --repo
// (default .), rebuilds it and compares the index digest (see package audit for the exact
// checks). It prints the commit, toolchain and modules and PASS or FAIL per check, as text
// or with --json as JSON.
//
// Exit status: 0 when every check passes, 1 when one fails (its reason is printed), 2 on
// usage errors.
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

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/sign"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("cairn-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", getenv("COSIGN_PUBLIC_KEY"), "cosign public key (default $COSIGN_PUBLIC_KEY)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	rebuild := fs.Bool("rebuild", false, "rebuild the provenance's commit and compare the index digest")
	repo := fs.String("repo", ".", "git repository to rebuild from (with --rebuild)")
	insecure := fs.Bool("insecure", false, "allow a plain-HTTP registry")
	verifierKey := fs.String("verifier-key", "", "require a rebuild verdict signed by this verifier's public key, and show it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cairn-audit --key cosign.pub [--verifier-key verifier.pub] [--json] [--rebuild [--repo DIR]] [--insecure] REF")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *keyFile == "" {
		fs.Usage()
		return 2
	}
	code, err := audit1(ctx, fs.Arg(0), *keyFile, *verifierKey, *asJSON, *rebuild, *repo, *insecure, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "cairn-audit:", err)
	}
	return code
}

func audit1(ctx context.Context, ref, keyFile, verifierKey string, asJSON, rebuild bool, repo string, insecure bool, stdout, stderr io.Writer) (int, error) {
	key, err := publicKey(keyFile)
	if err != nil {
		return 2, err
	}
	o := audit.Options{Key: key}
	if verifierKey != "" {
		if o.VerifierKey, err = publicKey(verifierKey); err != nil {
			return 2, err
		}
	}
	if insecure {
		o.NameOptions = append(o.NameOptions, name.Insecure)
	}
	if rebuild {
		o.Rebuild = audit.GitRebuilder(repo, stderr)
	}
	r, err := audit.Audit(ctx, ref, o)
	if err != nil {
		return 2, err
	}
	if asJSON {
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
	return 0, nil
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
