//go:build !linux

package build

import "os/exec"

// dieWithParent is Linux only (Pdeathsig); elsewhere an orphaned go build may outlive a
// killed release.
func dieWithParent(cmd *exec.Cmd) {}
