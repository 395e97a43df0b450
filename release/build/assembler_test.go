package build

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAssemblerEnv(t *testing.T) {
	in := []string{"PATH=/bin", "GOOS=windows", "GOFLAGS=-mod=mod", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5", "GOTOOLCHAIN=auto", "GOROOT=/x"}
	for _, toolchain := range []string{"local", "go1.26.8"} {
		got := AssemblerEnv(in, toolchain)
		want := []string{"PATH=/bin", "COSIGN_KEY=k", "SOURCE_DATE_EPOCH=5",
			"CGO_ENABLED=0", "GOTOOLCHAIN=" + toolchain, "GOFLAGS=-mod=readonly -trimpath", "GOWORK=off", "GOEXPERIMENT=", "GODEBUG="}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AssemblerEnv(%s) (-want +got):\n%s", toolchain, diff)
		}
		if strings.Contains(strings.Join(got, " "), "windows") {
			t.Errorf("AssemblerEnv kept GOOS: %v", got)
		}
	}
}
