package targets

import (
	"context"
	"errors"
)

// ProtoGenerate is not written yet.
func ProtoGenerate(ctx context.Context) error {
	return errors.New("ProtoGenerate: not implemented yet")
}

// ProtoCheck is not written yet.
func ProtoCheck(ctx context.Context) error { return errors.New("ProtoCheck: not implemented yet") }
