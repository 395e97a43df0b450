package bench

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// DiskUsage returns the bytes of the regular files under dir: counting each file once however
// many hard links it has (what the disk holds), and counting every path (what a copy without
// links would hold).
func DiskUsage(dir string) (unique, apparent int64, err error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		unique += info.Size()
		return nil
	})
	return unique, apparent, err
}
