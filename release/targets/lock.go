package targets

import (
	"context"
	"encoding/json"
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
		var err error
		if goVersion, err = pinnedGoVersion(path); err != nil {
			return err
		}
	}
	l, err := lock.Update(ctx, ".", goVersion)
	if err != nil {
		return err
	}
	return lock.Write(path, l)
}

// pinnedGoVersion reads go.version from the lock at path, leniently: a lock that no longer
// passes lock.Load (an older schema, a hand edit) is what `go tool mage lock` repairs, so
// only its Go version has to be readable. No lock at all pins DefaultGoVersion.
func pinnedGoVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultGoVersion, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading lock: %w", err)
	}
	var old struct {
		Go struct{ Version string } `json:"go"`
	}
	if err := json.Unmarshal(b, &old); err != nil || old.Go.Version == "" {
		return "", fmt.Errorf("%s names no go.version (%v); set CAIRN_GO_VERSION=go1.x.y to choose the toolchain", path, err)
	}
	return old.Go.Version, nil
}

// LockCheck verifies every pin in lock/lock.json against reality; see lock.Check.
func LockCheck(ctx context.Context) error { return lock.Check(ctx, ".") }
