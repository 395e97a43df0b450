package source

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func fakeGit(describe string) Git {
	return func(ctx context.Context, dir string, args ...string) (string, error) {
		switch args[0] {
		case "rev-parse":
			return "0123456789abcdef0123456789abcdef01234567", nil
		case "describe":
			return describe, nil
		case "log":
			return "1700000000", nil
		}
		return "", errors.New("unexpected git " + strings.Join(args, " "))
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name, describe, sde string
		want                Info
	}{
		{"clean tag", "v0.1.0", "", Info{"v0.1.0", "0123456789abcdef0123456789abcdef01234567", time.Unix(1700000000, 0).UTC(), false}},
		{"dirty", "v0.1.0-3-g0123456789ab-dirty", "", Info{"v0.1.0-3-g0123456789ab-dirty", "0123456789abcdef0123456789abcdef01234567", time.Unix(1700000000, 0).UTC(), true}},
		{"SOURCE_DATE_EPOCH wins", "0123456789ab", "1", Info{"0123456789ab", "0123456789abcdef0123456789abcdef01234567", time.Unix(1, 0).UTC(), false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(context.Background(), fakeGit(tt.describe), ".", tt.sde)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Resolve() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseEpochErrors(t *testing.T) {
	for _, in := range []string{"", "abc", "-5", "0", "1.5"} {
		if _, err := ParseEpoch(in); err == nil {
			t.Errorf("ParseEpoch(%q) error = nil, want an error", in)
		}
	}
}
