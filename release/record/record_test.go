package record

import (
	"strings"
	"testing"
)

func TestParseRecordRefuses(t *testing.T) {
	good := `{"commit":"c","compressor":{"level":6,"module":"m","version":"v"},"created":"x","dirty":false,"epoch":1,"images":[],"schema":1,"source":"s","toolchain":"go1.26.8","version":"v"}`
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	tests := []struct{ name, in, want string }{
		{"not json", "{", "decoding"},
		{"unknown field", strings.Replace(good, `"commit"`, `"extra":1,"commit"`, 1), "unknown field"},
		{"schema", strings.Replace(good, `"schema":1`, `"schema":2`, 1), "schema 2"},
		{"bad digest", strings.Replace(good, `"images":[]`, `"images":[{"index":"sha256:../../etc","name":"x","platforms":[],"service":{"name":"x","package":"p","ports":[]}}]`, 1), "want sha256"},
		{"bad binary path", strings.Replace(good, `"images":[]`, `"images":[{"index":"sha256:`+strings.Repeat("a", 64)+`","name":"x","platforms":[{"binary":{"path":"../x","sha256":""},"config":"sha256:`+strings.Repeat("b", 64)+`","layers":[],"manifest":"sha256:`+strings.Repeat("c", 64)+`","platform":"p"}],"service":{"name":"x","package":"p","ports":[]}}]`, 1), "binary path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"schema":1,"images":[]}`))
	f.Add([]byte(`{"schema":1,"images":[{"index":"sha256:00","platforms":[{"layers":["x"]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		// What parses re-encodes and parses again to the same record.
		out, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-parsing a marshalled record: %v\n%s", err, out)
		}
	})
}
