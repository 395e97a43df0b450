// Package platform_test holds the platform's dependency rule: the IoT platform imports
// nothing of the release toolchain (lock/, images/, release/, magefile targets) nor the
// test tree, so that a binary's contents depend only on the platform's own code and its
// modules, and a change to the toolchain can never change what a service does.
package platform_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbiddenPrefixes are the import paths no platform package may depend on, even indirectly.
var forbiddenPrefixes = []string{
	"github.com/cairn-iot/cairn/lock",
	"github.com/cairn-iot/cairn/images",
	"github.com/cairn-iot/cairn/release",
	"github.com/cairn-iot/cairn/test",
	"github.com/magefile/mage",
}

// violations returns the "importer -> forbidden" pairs of deps, lines of
// `go list -deps -f '{{.ImportPath}} {{join .Imports " "}}'`.
func violations(deps []string) []string {
	var bad []string
	for _, line := range deps {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		for _, imp := range fields[1:] {
			for _, p := range forbiddenPrefixes {
				if imp == p || strings.HasPrefix(imp, p+"/") {
					bad = append(bad, fields[0]+" -> "+imp)
				}
			}
		}
	}
	slices.Sort(bad)
	return bad
}

func TestPlatformImportsNoToolchain(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "github.com/cairn-iot/cairn/platform/cmd/cairn ") }) {
		t.Fatalf("go list ./... from platform/ did not list platform/cmd/cairn; is the test run from platform/?")
	}
	if bad := violations(lines); len(bad) > 0 {
		t.Errorf("platform packages import the toolchain or the test tree (forbidden: %v):\n%s", forbiddenPrefixes, strings.Join(bad, "\n"))
	}
}

// TestViolations checks the checker on made-up dependency lists.
func TestViolations(t *testing.T) {
	tests := []struct {
		deps []string
		want []string
	}{
		{[]string{"github.com/cairn-iot/cairn/platform/users fmt github.com/cairn-iot/cairn/platform/bus"}, nil},
		{[]string{"github.com/cairn-iot/cairn/platform/users github.com/cairn-iot/cairn/lock"},
			[]string{"github.com/cairn-iot/cairn/platform/users -> github.com/cairn-iot/cairn/lock"}},
		{[]string{"github.com/cairn-iot/cairn/platform/x github.com/cairn-iot/cairn/release/sign"},
			[]string{"github.com/cairn-iot/cairn/platform/x -> github.com/cairn-iot/cairn/release/sign"}},
		{[]string{"github.com/cairn-iot/cairn/platform/x github.com/cairn-iot/cairn/imagesx"}, nil},
		{[]string{"github.com/cairn-iot/cairn/platform/x github.com/cairn-iot/cairn/test/testenv"},
			[]string{"github.com/cairn-iot/cairn/platform/x -> github.com/cairn-iot/cairn/test/testenv"}},
	}
	for _, tt := range tests {
		if got := violations(tt.deps); !slices.Equal(got, tt.want) {
			t.Errorf("violations(%q) = %q, want %q", tt.deps, got, tt.want)
		}
	}
}
