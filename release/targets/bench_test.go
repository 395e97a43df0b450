package targets

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBenchArgs(t *testing.T) {
	tests := []struct {
		extra string
		want  []string
	}{
		{"", []string{"run", "./release/bench/cmd/cairn-bench", "-goroot", "/g"}},
		{"  -only platform\t-http-messages 500 ", []string{"run", "./release/bench/cmd/cairn-bench", "-goroot", "/g", "-only", "platform", "-http-messages", "500"}},
	}
	for _, tt := range tests {
		t.Run(tt.extra, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, benchArgs("/g", tt.extra)); diff != "" {
				t.Errorf("benchArgs(/g, %q) (-want +got):\n%s", tt.extra, diff)
			}
		})
	}
}
