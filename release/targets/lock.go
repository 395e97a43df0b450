package targets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cairn-iot/cairn/lock"
)

// DefaultGoVersion is the Go toolchain a first `go tool mage lock` pins when there is no
// lock yet; afterwards the lock's own go.version is kept unless CAIRN_GO_VERSION names another.
const DefaultGoVersion = "go1.26.8"

// LockUpdate recomputes lock/lock.json from go.mod, go.sum, lock/tools.mod, lock/tools.sum
// and the pinned Go toolchain (CAIRN_GO_VERSION, else the current lock's, else
// DefaultGoVersion), and writes it atomically.
func LockUpdate(ctx context.Context) error {
	goVersion := os.Getenv("CAIRN_GO_VERSION")
	path := filepath.FromSlash(lock.File)
	if goVersion == "" {
		old, err := lock.Load(path)
		switch {
		case err == nil:
			goVersion = old.Go.Version
		case errors.Is(err, fs.ErrNotExist):
			goVersion = DefaultGoVersion
		default:
			return fmt.Errorf("%w (or set CAIRN_GO_VERSION to choose the toolchain)", err)
		}
	}
	l, err := lock.Update(ctx, ".", goVersion)
	if err != nil {
		return err
	}
	return lock.Write(path, l)
}

// LockCheck verifies every pin in lock/lock.json against reality; see lock.Check.
func LockCheck(ctx context.Context) error { return lock.Check(ctx, ".") }
