package natsd_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/test/testenv"
)

// TestOnlyCairnLinksTheServer: the separate services connect to NATS as clients, so none
// links nats-server (about 10 MB of every binary); only the all-in-one cairn, which embeds
// it through this package, does.
func TestOnlyCairnLinksTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const server = "github.com/nats-io/nats-server"
	for _, svc := range []string{"users", "things", "http", "mqtt", "messages"} {
		for _, dep := range testenv.Deps(t, "../cmd/"+svc) {
			if dep == server || strings.HasPrefix(dep, server+"/") || dep == "github.com/cairn-iot/cairn/platform/natsd" {
				t.Errorf("platform/cmd/%s imports %s; only the all-in-one cairn may link the NATS server", svc, dep)
				break
			}
		}
	}
	if !containsPrefix(testenv.Deps(t, "../cmd/cairn"), server) {
		t.Errorf("platform/cmd/cairn does not link %s; the test checks the wrong packages", server)
	}
}

func containsPrefix(deps []string, prefix string) bool {
	for _, d := range deps {
		if strings.HasPrefix(d, prefix) {
			return true
		}
	}
	return false
}
