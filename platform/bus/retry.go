package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// RetryFor bounds Retry: a cluster that lost a node elects new stream leaders within
// seconds; past this the error is not transient.
const RetryFor = 2 * time.Minute

// Transient reports whether err is JetStream not answering in time, which a cluster electing
// a stream's leader does for a few seconds (after a node failure or restart).
func Transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders)
}

// Retry calls f, each time with a context of its own (at most attemptTimeout), until it
// succeeds, returns an error that is not Transient, ctx ends, or RetryFor has passed;
// between attempts it waits with backoff and logs what it retries. f must be safe to call
// again after it failed.
func Retry(ctx context.Context, log *slog.Logger, what string, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(RetryFor)
	err := backoff(ctx, f, func(err error) bool { return Transient(err) && time.Now().Before(deadline) },
		func(err error, attempt int, delay time.Duration) {
			if log != nil {
				log.Warn("JetStream did not answer, retrying", "what", what, "error", err, "attempt", attempt, "retry_in", delay.String())
			}
		})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}
