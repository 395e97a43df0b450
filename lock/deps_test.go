package lock

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestDeps: lock is where the data flow starts (lock -> proto -> build -> images -> sign ->
// push -> audit), so it imports no other Cairn package, and nothing of the network or
// signing stacks beyond what the go command does for it. Its own lock/goenv is the one
// exception: the environment of its go commands, a leaf like lock itself.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, dep := range testenv.Deps(t, ".") {
		if strings.HasPrefix(dep, "github.com/cairn-iot/cairn/") && dep != "github.com/cairn-iot/cairn/lock" && dep != "github.com/cairn-iot/cairn/lock/goenv" {
			t.Errorf("lock imports %s; it must import no other Cairn package", dep)
		}
		if dep == "net/http" || strings.HasPrefix(dep, "github.com/sigstore/") || strings.HasPrefix(dep, "github.com/google/go-containerregistry") {
			t.Errorf("lock imports %s; downloads go through the go command, signing is not lock's business", dep)
		}
	}
}
