package lock

import (
	"context"
	"errors"
)

// Check is being written; it fails until then.
func Check(ctx context.Context, moduleDir string, opts ...Option) error {
	return errors.New("lock.Check: not implemented yet")
}
