package bus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backoff bounds of WaitReady: the first retry comes after MinBackoff, each next one after
// twice as long, at most MaxBackoff.
const (
	MinBackoff = 250 * time.Millisecond
	MaxBackoff = 2 * time.Second
	// attemptTimeout bounds one Ensure: a cluster without quorum does not answer at all, and
	// one that elects its leader answers the next attempt; Ensure is idempotent.
	attemptTimeout = 3 * time.Second
)

// WaitReady runs Ensure until it succeeds, retrying with backoff while the JetStream
// cluster cannot serve (no quorum, no leader, servers down). Before each retry it calls
// waiting with what it waits for, and logs it. It returns nil once the streams and buckets
// are in place, an error marked ErrRefused that waiting cannot cure, or ctx's error.
func (b *Bus) WaitReady(ctx context.Context, waiting func(reason string)) error {
	err := backoff(ctx, b.Ensure,
		func(err error) bool { return !errors.Is(err, ErrRefused) },
		func(err error, attempt int, delay time.Duration) {
			reason := fmt.Sprintf("waiting for a JetStream quorum on %s: %v", b.describe(), err)
			if waiting != nil {
				waiting(reason)
			}
			if b.opts.Log != nil {
				b.opts.Log.Warn("JetStream not ready, retrying", "reason", reason, "attempt", attempt, "retry_in", delay.String())
			}
		})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("waiting for JetStream: %w", err)
	}
	return err
}

// backoff calls f, each time with a context of its own (at most attemptTimeout), until it
// succeeds, returns an error retry refuses, or ctx ends; before each retry it calls
// retrying, then waits, from MinBackoff doubling up to MaxBackoff. It returns f's last
// error, or, once ctx ended, ctx's error with it.
func backoff(ctx context.Context, f func(context.Context) error, retry func(error) bool,
	retrying func(err error, attempt int, delay time.Duration)) error {
	delay := MinBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := f(actx)
		cancel()
		if err == nil || !retry(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
		retrying(err, attempt, delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, MaxBackoff)
	}
}

func (b *Bus) describe() string {
	if b.opts.URL != "" {
		return b.opts.URL
	}
	return "the embedded NATS"
}
