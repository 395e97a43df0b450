package goreleaser

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// goreleaser and cosign are run as the stock CLIs of lock/tools.mod, never linked: they are
// heavy, pull in network clients, and their versions are pinned apart from go.mod's. Neither
// this package nor its command may import them (or nfpm, which goreleaser runs).
func TestNoGoreleaserOrSigstoreImports(t *testing.T) {
	pkgs := []string{
		"github.com/cairn-iot/cairn/release/goreleaser",
		"github.com/cairn-iot/cairn/release/goreleaser/cmd/cairn-goreleaser",
	}
	for _, dep := range testenv.Deps(t, pkgs...) {
		for _, bad := range []string{"github.com/goreleaser/", "github.com/sigstore/"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("%s is imported; run the CLI from lock/tools.mod instead", dep)
			}
		}
	}
}
