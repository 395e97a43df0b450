package audit

import (
	"context"
	"testing"
)

// FuzzOpen: image references come from the command line. Open must return a source or an
// error, never panic, and never touch the network (it only parses).
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"ghcr.io/cairn-iot/things:v1.2.3", "127.0.0.1:5000/cairn/things@sha256:" + "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34", "oci:dist/cosign/things", "oci:/nonexistent:things", "UPPER/case", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		src, err := Open(context.Background(), ref, Options{})
		if err == nil && src == nil {
			t.Fatalf("Open(%q) = nil, nil", ref)
		}
	})
}
