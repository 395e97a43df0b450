package testenv

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Deps returns the import paths of pkgs and of everything they import, test files not
// included (`go list -deps pkgs...`, run in the test's package directory), for the deps
// tests that say which imports a package must not have. It fails the test if go list fails.
func Deps(t testing.TB, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps %s: %v\n%s", strings.Join(pkgs, " "), err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", strings.Join(pkgs, " "), err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s listed nothing", strings.Join(pkgs, " "))
	}
	return deps
}

// Forbidden returns what pkg imports, directly or not (Deps), out of forbidden: an import
// path, or a prefix ending in "/" for everything below it. pkg itself is never returned.
func Forbidden(t testing.TB, pkg string, forbidden ...string) []string {
	t.Helper()
	var bad []string
	for _, dep := range Deps(t, pkg) {
		if dep == pkg {
			continue
		}
		for _, f := range forbidden {
			if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
				bad = append(bad, dep)
				break
			}
		}
	}
	return bad
}
