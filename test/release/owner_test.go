package release_test

import (
	"os"
	"syscall"
)

// owner returns a file's uid and gid.
func owner(fi os.FileInfo) (int, int) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
