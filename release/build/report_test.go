package build

import (
	"bytes"
	"strings"
	"testing"
)

// TestEnvironmentReport: the lines ReportEnvironment writes are found again in a log where
// something precedes them (nix prints "<drv>> " before a builder's lines), each once.
func TestEnvironmentReport(t *testing.T) {
	var b bytes.Buffer
	ReportEnvironment(&b, "prog")
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1+len(Targets) {
		t.Fatalf("ReportEnvironment wrote %d lines, want %d:\n%s", len(lines), 1+len(Targets), b.String())
	}
	if !strings.HasPrefix(lines[0], "prog: compiled by go1.") {
		t.Errorf("first line %q, want prog: compiled by <go version> ...", lines[0])
	}
	want := "prog: build environment linux/arm/v7: GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOEXPERIMENT= GODEBUG= GOFIPS140= CC= CXX= GOWORK=off GOENV=off"
	if lines[2] != want {
		t.Errorf("arm/v7 line %q, want %q", lines[2], want)
	}
	var log strings.Builder
	for range 2 {
		log.WriteString("noise\n")
		for _, l := range lines {
			log.WriteString("cairn-release> " + l + "\r\n")
		}
	}
	if got := EnvironmentReport(log.String(), "prog"); strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Errorf("EnvironmentReport = %q, want %q", got, lines)
	}
	if got := EnvironmentReport(log.String(), "other"); len(got) != 0 {
		t.Errorf("EnvironmentReport of another program = %q, want none", got)
	}
}
