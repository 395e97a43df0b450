package main

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad mode", []string{"-lock", "none", "-goroot", "/nonexistent", "-mode", "bogus"}, "-mode"},
		{"extra argument", []string{"extra"}, "unexpected arguments"},
		{"unknown flag", []string{"-nope"}, "-nope"},
		{"lock none without goroot", []string{"-lock", "none"}, "-goroot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPartialIdentityIsRefused(t *testing.T) {
	err := run(context.Background(), []string{"-lock", "none", "-goroot", runtime.GOROOT(), "-version", "v1"})
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "go together") {
		t.Errorf("run(-version only) = %v, want a usage error: -version, -commit and -epoch go together", err)
	}
}
