package targets

import (
	"context"
	"errors"
)

// Push is not written yet.
func Push(ctx context.Context, repository string) error {
	return errors.New("push: not implemented yet")
}

// Audit is not written yet.
func Audit(ctx context.Context, image string) error { return errors.New("audit: not implemented yet") }
