// Package servicetest checks the wiring of a standalone main (platform/cmd/<svc>) around
// service.RunStandalone, whose refusals are tested in package service.
package servicetest

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// Run is a standalone main's run function.
type Run func(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error

// CheckWiring checks that run refuses an empty -nats-url with an error naming the service
// (refusal, e.g. "the http adapter ") and that -h lists CAIRN_NATS_URL and every flag in flags.
func CheckWiring(t *testing.T, run Run, refusal string, flags ...string) {
	t.Helper()
	noEnv := func(string) string { return "" }
	err := run(context.Background(), []string{"-nats-url", ""}, noEnv, io.Discard)
	if want := "-nats-url is empty: " + refusal; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run(-nats-url \"\") = %v, want an error containing %q", err, want)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"-h"}, noEnv, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range append([]string{"CAIRN_NATS_URL"}, flags...) {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output does not name %s:\n%s", want, out.String())
		}
	}
}
