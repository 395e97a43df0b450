package main

import (
	"testing"

	"github.com/cairn-iot/cairn/platform/service/servicetest"
)

// The refusals themselves are service.RunStandalone's, tested there; this checks the wiring.
func TestWiring(t *testing.T) {
	servicetest.CheckWiring(t, run, "the bootstrap service ", "CAIRN_THINGS_URL", "CAIRN_BOOTSTRAP_KEY", "CAIRN_BCRYPT_COST")
}
