package build

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel SIGKILL cmd when the release process dies (even by
// SIGKILL), so an orphaned go build cannot write into a staging directory that the next
// release has already removed.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
