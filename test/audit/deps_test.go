package audit_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestNoSigstoreImports: Cairn implements the cosign formats itself (package sign) and proves
// them with the stock CLI, pinned in lock/tools.mod. The sigstore modules are heavy, move
// fast and bring a network client (Rekor, Fulcio, TUF) into code that must work offline, so
// the signing, push and audit packages must not import them.
func TestNoSigstoreImports(t *testing.T) {
	pkgs := []string{
		"github.com/cairn-iot/cairn/release/sign",
		"github.com/cairn-iot/cairn/release/attest",
		"github.com/cairn-iot/cairn/release/signstep",
		"github.com/cairn-iot/cairn/release/push",
		"github.com/cairn-iot/cairn/release/audit",
		"github.com/cairn-iot/cairn/release/cmd/cairn-audit",
	}
	for _, dep := range testenv.Deps(t, pkgs...) {
		for _, bad := range []string{"github.com/sigstore/", "github.com/secure-systems-lab/", "github.com/in-toto/", "github.com/theupdateframework/"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("%s is imported; implement the format in release/sign instead", dep)
			}
		}
	}
}
