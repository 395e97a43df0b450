package generate

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps: generating code depends on the compiler and the protobuf runtime only; it
// imports nothing of the platform, the images or the release pipeline (data flows
// lock -> proto -> build -> images -> ...).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, dep := range testenv.Deps(t, ".") {
		for _, forbidden := range []string{"platform", "images", "release"} {
			if strings.HasPrefix(dep, "github.com/cairn-iot/cairn/"+forbidden) {
				t.Errorf("proto/generate imports %s; it must not depend on %s/", dep, forbidden)
			}
		}
	}
}
