package targets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPinnedGoVersion(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" means no file
		want    string
		wantErr string
	}{
		{name: "no lock", want: DefaultGoVersion},
		{name: "valid lock", content: `{"go": {"version": "go1.26.8", "archives": {}}, "schema": 1}`, want: "go1.26.8"},
		{name: "lock of an older schema", content: `{"go": {"version": "go1.26.7"}, "retired_field": true}`, want: "go1.26.7"},
		{name: "no version", content: `{"go": {}}`, wantErr: "CAIRN_GO_VERSION"},
		{name: "not JSON", content: `{`, wantErr: "CAIRN_GO_VERSION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock.json")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := pinnedGoVersion(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pinnedGoVersion() = %q, %v, want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pinnedGoVersion() = %q, %v, want %q, nil", got, err, tt.want)
			}
		})
	}
}
