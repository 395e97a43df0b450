package targets

import (
	"context"
	"errors"
)

// Build is not written yet.
func Build(ctx context.Context) error { return errors.New("Build: not implemented yet") }

// Images is not written yet.
func Images(ctx context.Context) error { return errors.New("Images: not implemented yet") }

// Release is not written yet.
func Release(ctx context.Context) error { return errors.New("Release: not implemented yet") }

// Verify is not written yet.
func Verify(ctx context.Context) error { return errors.New("Verify: not implemented yet") }
