package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestRunRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{name: "no NATS", args: []string{"-nats-url", ""}, want: "-nats-url is empty"},
		{name: "bad log level", env: map[string]string{"CAIRN_LOG_LEVEL": "loud"}, want: "CAIRN_LOG_LEVEL"},
		{name: "arguments", args: []string{"extra"}, want: "unexpected arguments"},
		{name: "NATS not running", args: []string{"-nats-url", "nats://127.0.0.1:1", "-http-addr", "127.0.0.1:0"}, want: "connecting to NATS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "CAIRN_NATS_URL") {
		t.Errorf("-h output does not name CAIRN_NATS_URL:\n%s", out.String())
	}
}
