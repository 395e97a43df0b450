package release

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-iot/cairn/release/record"
)

// stagingPrefix names the staging directories next to dist/: "dist.staging-*". They are
// git-ignored (/dist.*) and never look like a finished dist/.
func stagingPrefix(dist string) string { return filepath.Base(dist) + ".staging-" }

// lockPath is the lock file of dist/: ".dist.lock" next to it.
func lockPath(dist string) string {
	return filepath.Join(filepath.Dir(dist), "."+filepath.Base(dist)+".lock")
}

// lockDist takes an exclusive flock on dist's lock file, so two releases in one tree never
// write at the same time. If another holds it, wait is told who and we block until it is
// released (the kernel drops the lock of a killed process). unlock releases it.
func lockDist(dist string, wait func(msg string)) (unlock func(), err error) {
	p := lockPath(dist)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening release lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		holder, _ := os.ReadFile(p)
		if wait != nil {
			wait(fmt.Sprintf("another release (pid %s) holds %s; waiting for it to finish", strings.TrimSpace(string(holder)), p))
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// newStaging removes stale staging directories of killed releases (we hold the lock, so
// none is in use) and creates a fresh one next to dist.
func newStaging(dist string) (string, error) {
	parent := filepath.Dir(dist)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", parent, err)
	}
	if err := removeStaging(dist); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, stagingPrefix(dist))
	if err != nil {
		return "", fmt.Errorf("creating staging dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating staging dir: %w", err)
	}
	return dir, nil
}

// removeStaging removes the staging directories next to dist; the caller holds dist's lock,
// so they are what killed releases left.
func removeStaging(dist string) error {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(dist), stagingPrefix(dist)+"*"))
	for _, o := range old {
		if err := os.RemoveAll(o); err != nil {
			return fmt.Errorf("removing stale staging dir: %w", err)
		}
	}
	return nil
}

// tidyStaging removes what killed releases left next to dist when no release is running (a
// release that holds dist's lock owns its staging directory, and is left alone). A release
// that finds dist/ up to date calls it, as a release that builds cleans up in newStaging.
func tidyStaging(dist string) error {
	f, err := os.OpenFile(lockPath(dist), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening release lock: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil
		}
		return fmt.Errorf("locking %s: %w", lockPath(dist), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return removeStaging(dist)
}

// swapIn makes staging the new dist atomically: with an existing dist, renameat2
// RENAME_EXCHANGE swaps the two names in one step (readers see the old or the new dist,
// never a mix or nothing), then the old tree, now under the staging name, is removed. With
// no dist yet, a plain rename. If the file system does not support RENAME_EXCHANGE, the
// old dist is first renamed aside (a moment with no dist/, never a partial one). A dist/bench of the old dist is moved into the new one.
func swapIn(staging, dist string) error {
	if _, err := os.Lstat(dist); os.IsNotExist(err) {
		if err := os.Rename(staging, dist); err != nil {
			return fmt.Errorf("moving release into place: %w", err)
		}
		return nil
	}
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dist, unix.RENAME_EXCHANGE)
	if err != nil {
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("swapping release into place: %w", err)
		}
		aside := staging + ".old"
		if err := os.Rename(dist, aside); err != nil {
			return fmt.Errorf("moving previous release aside: %w", err)
		}
		if err := os.Rename(staging, dist); err != nil {
			return fmt.Errorf("moving release into place: %w", err)
		}
		staging = aside
	}
	// dist/bench is the benchmark report (release/bench), not the release's: it stays.
	if _, err := os.Lstat(filepath.Join(staging, record.BenchDir)); err == nil {
		if err := os.Rename(filepath.Join(staging, record.BenchDir), filepath.Join(dist, record.BenchDir)); err != nil && !os.IsExist(err) {
			return fmt.Errorf("keeping dist/%s: %w", record.BenchDir, err)
		}
	}
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("removing previous release: %w", err)
	}
	return nil
}
