package lock

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// committed returns the repository's lock/lock.json.
func committed(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("lock.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes b into a generic map, applies f and re-encodes it.
func edit(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func section(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func TestParseCommitted(t *testing.T) {
	b := committed(t)
	l, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(lock.json) = %v, want nil", err)
	}
	got, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Errorf("Marshal(Parse(lock.json)) differs from lock.json: the committed file is not written the one way Write writes it")
	}
	if l.Go.Version != "go1.26.8" {
		t.Errorf("Go.Version = %q, want go1.26.8", l.Go.Version)
	}
	if l.Compressor.Level != 6 || l.Compressor.Implementation != CompressorImplementation {
		t.Errorf("Compressor = %+v, want %s level 6", l.Compressor, CompressorImplementation)
	}
}

func TestParseRefuses(t *testing.T) {
	good := committed(t)
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "decoding lock"},
		{"not an object", []byte(`[]`), "decoding lock"},
		{"unknown top-level field", edit(t, good, func(m map[string]any) { m["extra"] = 1 }), `unknown field "extra"`},
		{"unknown nested field", edit(t, good, func(m map[string]any) { section(m, "go", "archives", "linux-amd64")["sha512"] = "x" }), `unknown field "sha512"`},
		{"trailing data", append(append([]byte{}, good...), []byte("{}")...), "unexpected data after"},
		{"schema", edit(t, good, func(m map[string]any) { m["schema"] = 2 }), "schema is 2, want 1"},
		{"go version", edit(t, good, func(m map[string]any) { section(m, "go")["version"] = "1.26.8" }), `go.version is "1.26.8"`},
		{"missing platform", edit(t, good, func(m map[string]any) { delete(section(m, "go", "archives"), "darwin-arm64") }), `no "darwin-arm64" entry`},
		{"extra platform", edit(t, good, func(m map[string]any) {
			section(m, "go", "archives")["plan9-386"] = section(m, "go", "archives", "linux-amd64")
		}), `entry "plan9-386"`},
		{"module version", edit(t, good, func(m map[string]any) {
			section(m, "go", "archives", "linux-amd64")["module_version"] = "v0.0.1-go1.26.7.linux-amd64"
		}), "module_version"},
		{"zip hash", edit(t, good, func(m map[string]any) { section(m, "go", "archives", "linux-amd64")["zip_sha256"] = "sha256:ABC" }), "zip_sha256"},
		{"h1", edit(t, good, func(m map[string]any) { section(m, "go", "archives", "linux-amd64")["h1"] = "h1:short" }), ".h1"},
		{"nix hash", edit(t, good, func(m map[string]any) { section(m, "go", "archives", "linux-amd64")["nix_hash"] = "" }), "nix_hash"},
		{"url", edit(t, good, func(m map[string]any) {
			section(m, "go", "archives", "linux-amd64")["url"] = "https://evil.example/go.zip"
		}), ".url"},
		{"go.sum hash", edit(t, good, func(m map[string]any) { delete(section(m, "modules"), "go_sum_sha256") }), "modules.go_sum_sha256"},
		{"tools file", edit(t, good, func(m map[string]any) { section(m, "tools")["mod_file"] = "tools.mod" }), "tools.mod_file"},
		{"tools commands", edit(t, good, func(m map[string]any) { section(m, "tools")["commands"] = []string{"goreleaser", "cosign"} }), "tools.commands"},
		{"compressor level", edit(t, good, func(m map[string]any) { section(m, "compressor")["level"] = 0 }), "compressor.level is 0"},
		{"compressor version", edit(t, good, func(m map[string]any) { section(m, "compressor")["version"] = "latest" }), "compressor.version"},
		{"duplicate key", bytes.Replace(good, []byte(`"schema": 1,`), []byte(`"schema": 1, "schema": 1,`), 1), `key "schema" appears twice`},
		{"duplicate nested key", bytes.Replace(good, []byte(`"level": 6,`), []byte(`"level": 9, "level": 6,`), 1), `key "level" appears twice`},
		{"key case", bytes.Replace(good, []byte(`"schema": 1,`), []byte(`"Schema": 1,`), 1), `key "Schema" is not lowercase`},
		{"wrong type", edit(t, good, func(m map[string]any) { section(m, "compressor")["level"] = "6" }), "decoding lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse() = %v, %v, want an error containing %q", l, err, tt.wantErr)
			}
		})
	}
}

func TestLoadNamesFileAndFix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.json")
	if err := os.WriteFile(path, []byte(`{"schema": 1, "bogus": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "go tool mage lock") {
		t.Fatalf("Load(%s) = %v, want an error naming the file and `go tool mage lock`", path, err)
	}
}

func TestWrite(t *testing.T) {
	l, err := Parse(committed(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "lock.json")
	if err := Write(path, l); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if got := mustRead(t, path); !bytes.Equal(got, committed(t)) {
		t.Errorf("Write() wrote a file that differs from lock.json")
	}

	// An invalid lock is refused and the file on disk is left as it was.
	bad := *l
	bad.Compressor.Level = 42
	if err := Write(path, &bad); err == nil {
		t.Fatalf("Write(level 42) = nil, want an error")
	}
	if got := mustRead(t, path); !bytes.Equal(got, committed(t)) {
		t.Errorf("Write(invalid) changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("Write left %d files in the directory, want 1 (no temporary files)", len(entries))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestToolName(t *testing.T) {
	tests := map[string]string{
		"github.com/sigstore/cosign/v2/cmd/cosign": "cosign",
		"github.com/goreleaser/goreleaser/v2":      "goreleaser",
		"github.com/magefile/mage":                 "mage",
		"example.com/v2":                           "example.com",
	}
	for in, want := range tests {
		if got := toolName(in); got != want {
			t.Errorf("toolName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(committed(f))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must survive the one way of writing it, unchanged.
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Parse(b)) = %v", err)
		}
		l2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(b))) = %v", err)
		}
		out2, err := l2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Marshal is not stable: %v\n%s\n%s", err, out, out2)
		}
	})
}
