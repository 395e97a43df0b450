package nix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/test/fixture"
)

// TestBuildShExportsAssemblerEnv: nix/build.sh compiles and runs cairn-release in the
// environment mage gives it (goenv.Assembler with the pinned go, GOTOOLCHAIN=local), so it
// exports every variable of goenv.AssemblerFixed with the same value. This reads the script
// without nix; TestNixBuildEqualsMageRelease checks what the real build reports.
func TestBuildShExportsAssemblerEnv(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixture.RepoRoot(t), "nix", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, w := range shellWords(t, rest) {
				k, v, _ := strings.Cut(w, "=")
				exported[k] = v
			}
		}
	}
	for _, kv := range goenv.AssemblerFixed("local") {
		k, want, _ := strings.Cut(kv, "=")
		if got, ok := exported[k]; !ok || got != want {
			t.Errorf("nix/build.sh exports %s=%q (exported: %v), want %q as goenv.Assembler sets it", k, got, ok, want)
		}
	}
}

// shellWords splits the words of an export line: blanks separate words outside double
// quotes, which are removed. Nothing else of the shell's syntax is understood; a word with
// a single quote or a backslash fails the test.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == '\'' || r == '\\':
			t.Fatalf("nix/build.sh: export line %q: only double quotes are understood here", s)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
