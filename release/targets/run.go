package targets

import (
	"context"
	"errors"
)

// Run is not written yet.
func Run(ctx context.Context) error { return errors.New("Run: not implemented yet") }
