package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// The refusals themselves are service.RunStandalone's, tested there; these check the wiring.

func TestRunNamesTheServiceWithoutNATS(t *testing.T) {
	err := run(context.Background(), []string{"-nats-url", ""}, func(string) string { return "" }, io.Discard)
	if want := "-nats-url is empty: the mqtt adapter "; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("run(-nats-url \"\") = %v, want an error containing %q", err, want)
	}
}

func TestRunHelpListsItsFlags(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"CAIRN_NATS_URL", "-mqtt-addr", "-instance", "-max-payload"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output does not name %s:\n%s", want, out.String())
		}
	}
}
