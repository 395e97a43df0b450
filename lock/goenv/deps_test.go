package goenv

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps: every layer (lock, release/build, the release's commands) builds its go
// commands' environment here, so this package imports no other Cairn package.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, dep := range testenv.Deps(t, ".") {
		if strings.HasPrefix(dep, "github.com/cairn-iot/cairn/") && dep != "github.com/cairn-iot/cairn/lock/goenv" {
			t.Errorf("goenv imports %s; it must import no other Cairn package", dep)
		}
	}
}
