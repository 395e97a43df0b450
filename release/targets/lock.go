package targets

import (
	"context"
	"errors"
)

// LockUpdate is not written yet.
func LockUpdate(ctx context.Context) error { return errors.New("LockUpdate: not implemented yet") }

// LockCheck is not written yet.
func LockCheck(ctx context.Context) error { return errors.New("LockCheck: not implemented yet") }
