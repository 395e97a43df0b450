package targets

import (
	"context"
	"errors"
)

// Test is not written yet.
func Test(ctx context.Context) error { return errors.New("Test: not implemented yet") }
