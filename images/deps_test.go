package images

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeps keeps images a pure transformation: it may not reach the network, run
// programs, or sign (signing lives in release/, beside the image, never inside it).
func TestDeps(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"net", "net/http", "os/exec", "github.com/google/go-containerregistry/pkg/v1/remote", "github.com/sigstore/"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
				t.Errorf("images imports %s (via its dependencies); it must stay free of network, exec and signing", dep)
			}
		}
	}
}
