package evidence_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps keeps the evidence check where it is (see the package doc): package release, the
// pipeline, imports neither the audit nor this package nor a registry client; this package
// implements nothing of cosign's formats itself and links no sigstore module.
func TestDeps(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{"github.com/cairn-iot/cairn/release", []string{
			"github.com/cairn-iot/cairn/release/audit", "github.com/cairn-iot/cairn/release/evidence",
			"github.com/cairn-iot/cairn/release/signstep", "github.com/google/go-containerregistry/pkg/v1/remote", "net/http",
		}, "the pipeline's core stays free of the audit and of network clients; cairn-release verify runs the evidence check"},
		{"github.com/cairn-iot/cairn/release/evidence", []string{"github.com/sigstore/", "github.com/secure-systems-lab/", "github.com/in-toto/"},
			"cosign's formats are package sign's; the stock CLI proves them"},
	} {
		for _, dep := range testenv.Deps(t, tc.pkg) {
			for _, f := range tc.forbidden {
				if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
					t.Errorf("%s imports %s: %s", tc.pkg, dep, tc.why)
				}
			}
		}
	}
}
