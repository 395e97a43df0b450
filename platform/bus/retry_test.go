package bus

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestRetry(t *testing.T) {
	calls := 0
	err := Retry(context.Background(), nil, "test", func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("an attempt has no deadline")
		}
		if calls < 3 {
			return fmt.Errorf("creating a consumer: %w", context.DeadlineExceeded)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Retry = %v after %d calls, want success on the third", err, calls)
	}
	calls = 0
	permanent := errors.New("stream config invalid")
	if err := Retry(context.Background(), nil, "test", func(context.Context) error { calls++; return permanent }); !errors.Is(err, permanent) || calls != 1 {
		t.Errorf("Retry of a permanent error = %v after %d calls, want it at once", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Retry(ctx, nil, "test", func(context.Context) error { return nats.ErrNoResponders }); err == nil {
		t.Error("Retry with a cancelled context succeeded")
	}
}
