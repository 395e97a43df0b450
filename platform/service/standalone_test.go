package service

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// standalone is a service with one flag of its own, as the mains define them.
func standalone(got *string) Standalone {
	return Standalone{
		Name:     "demo",
		What:     "the demo service",
		HTTPAddr: ":0",
		Flags: func(fs *flag.FlagSet) func() New {
			own := fs.String("own", "default", "a flag of the service's own")
			return func() New {
				*got = *own
				return func(context.Context, Deps) (Component, error) { return Component{Name: "demo"}, nil }
			}
		},
	}
}

func TestRunStandaloneRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{name: "no NATS", args: []string{"-nats-url", ""}, want: "-nats-url is empty: the demo service runs against an external NATS"},
		{name: "bad log level", env: map[string]string{"CAIRN_LOG_LEVEL": "loud"}, want: "CAIRN_LOG_LEVEL"},
		{name: "arguments", args: []string{"extra"}, want: "unexpected arguments"},
		{name: "NATS not running", args: []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", "127.0.0.1:0"}, want: "connecting to NATS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var own string
			err := RunStandalone(context.Background(), standalone(&own), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunStandalone(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunStandaloneBuildsTheComponentFromItsFlags(t *testing.T) {
	var own string
	env := map[string]string{"CAIRN_OWN": "from-env"}
	args := []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", "127.0.0.1:0"}
	_ = RunStandalone(context.Background(), standalone(&own), args, func(k string) string { return env[k] }, io.Discard)
	if own != "from-env" {
		t.Errorf("the component saw -own = %q, want %q (CAIRN_OWN)", own, "from-env")
	}
}

func TestRunStandaloneHelp(t *testing.T) {
	var out strings.Builder
	var own string
	if err := RunStandalone(context.Background(), standalone(&own), []string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("RunStandalone(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"CAIRN_NATS_URL", "CAIRN_HTTP_ADDR", "-own"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output does not name %s:\n%s", want, out.String())
		}
	}
}
