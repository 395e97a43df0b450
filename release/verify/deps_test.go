package verify_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps keeps verification beside the pipeline (see the package doc): package release
// imports neither this package nor the audit nor a registry client; this package
// implements nothing of cosign's formats itself and links no sigstore module.
func TestDeps(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{"github.com/cairn-iot/cairn/release", []string{
			"github.com/cairn-iot/cairn/release/audit", "github.com/cairn-iot/cairn/release/verify",
			"github.com/cairn-iot/cairn/release/signstep", "github.com/google/go-containerregistry/pkg/v1/remote", "net/http",
		}, "the pipeline's core stays free of the audit and of network clients; package verify checks the release"},
		{"github.com/cairn-iot/cairn/release/verify", []string{"github.com/sigstore/", "github.com/secure-systems-lab/", "github.com/in-toto/"},
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
