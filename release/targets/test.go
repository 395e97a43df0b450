package targets

import (
	"context"
	"os"
	"os/exec"
)

// testTimeout bounds the whole suite; CI must finish within its hour on two cores.
const testTimeout = "50m"

// Test runs every test of the module, the end-to-end ones included, as CI does.
func Test(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout", testTimeout, "./...")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
