package targets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAssemblerEnv(t *testing.T) {
	in := []string{"PATH=/bin", "GOOS=windows", "GOFLAGS=-mod=mod", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5", "GOTOOLCHAIN=auto"}
	got := assemblerEnv(in)
	want := []string{"PATH=/bin", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5",
		"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly -trimpath", "GOWORK=off", "GOEXPERIMENT=", "GODEBUG="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("assemblerEnv (-want +got):\n%s", diff)
	}
	if strings.Contains(strings.Join(got, " "), "windows") {
		t.Errorf("assemblerEnv kept GOOS: %v", got)
	}
}
