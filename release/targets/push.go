package targets

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"

	"github.com/cairn-iot/cairn/release/audit"
	"github.com/cairn-iot/cairn/release/push"
	"github.com/cairn-iot/cairn/release/verify"
)

// Push pushes the signed release in dist/ to REGISTRY/PREFIX: every service's index, its
// platform images, signatures and attestations to REGISTRY/PREFIX/<svc>, by digest first and
// tags last (the version, and latest for a vX.Y.Z release). Signatures and attestations go
// both as Sigstore bundles (OCI 1.1 referrers) and as cosign's legacy tags; CAIRN_NO_LEGACY=1
// drops the legacy tags. The rebuild verdicts that `go
// tool mage verify` signed with CAIRN_VSA_KEY (dist.vsa/) go with the index's attestations.
// Credentials come from the Docker config and its credential helpers.
func Push(ctx context.Context, repository string) error {
	if repository == "" {
		return errors.New("push: expected a destination REGISTRY/PREFIX, e.g. `go tool mage push ghcr.io/cairn-iot`")
	}
	o := push.Options{Log: os.Stdout, NoLegacy: os.Getenv("CAIRN_NO_LEGACY") == "1"}
	if fi, err := os.Stat("dist.vsa"); err == nil && fi.IsDir() {
		fmt.Println("push: adding the rebuild verdicts of dist.vsa/")
		o.Verdicts = "dist.vsa"
	}
	pushed, err := push.Dist(ctx, "dist", repository, o)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Printf("pushed %d images to %s\n", len(pushed), repository)
	return nil
}

// Audit verifies image (a registry reference by tag or digest, or oci:DIR) against the public
// key in COSIGN_PUBLIC_KEY, else the public key of COSIGN_KEY (with COSIGN_PASSWORD), else the
// development key .cairn/keys/cosign.pub, and prints PASS or FAIL per check. For a rebuild,
// run `go run ./release/cmd/cairn-audit --rebuild --key KEY REF`.
func Audit(ctx context.Context, image string) error {
	key, from, err := auditKey(os.Getenv)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fmt.Printf("key:       %s\n", from)
	r, err := audit.Audit(ctx, image, audit.Options{Key: key})
	if err != nil {
		return err
	}
	if err := r.Text(os.Stdout); err != nil {
		return err
	}
	if !r.Pass {
		return fmt.Errorf("audit of %s: FAIL (%d checks failed)", image, len(r.Failed()))
	}
	return nil
}

// auditKey finds the public key an audit checks against, and says where it came from:
// the resolution `cairn-release verify` also uses (verify.PublicKey), from the module root.
func auditKey(getenv func(string) string) (*ecdsa.PublicKey, string, error) {
	return verify.PublicKey(getenv, ".")
}
