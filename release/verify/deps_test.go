package verify_test

import (
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps: this package implements nothing of cosign's formats itself and links no
// sigstore module. (That the pipeline imports neither this package nor the audit is
// release/record's TestLayers.)
func TestDeps(t *testing.T) {
	pkg := "github.com/cairn-iot/cairn/release/verify"
	for _, dep := range testenv.Forbidden(t, pkg, "github.com/sigstore/", "github.com/secure-systems-lab/", "github.com/in-toto/") {
		t.Errorf("%s imports %s: cosign's formats are package sign's; the stock CLI proves them", pkg, dep)
	}
}
