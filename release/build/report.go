package build

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/cairn-iot/cairn/lock/goenv"
)

// Report markers: the lines ReportEnvironment writes start with prog and one of these.
const (
	compiledMarker = ": compiled by "
	envMarker      = ": build environment "
)

// ReportEnvironment writes, one line each, how the running program (prog, its name in the
// log) was compiled (goenv.Compiled of its build information) and the environment of each
// target's build without the passthrough values (goenv.Describe of goenv.Build). The release,
// the audit's rebuild and the nix build of one commit must print the same lines: the
// end-to-end tests compare them (EnvironmentReport). The binaries' bytes are compared
// anyway; these lines cover the program that builds them, whose bytes nobody compares.
func ReportEnvironment(w io.Writer, prog string) {
	compiled := "(no build information)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		compiled = goenv.Compiled(bi)
	}
	fmt.Fprintf(w, "%s%s%s\n", prog, compiledMarker, compiled)
	for _, t := range Targets {
		fmt.Fprintf(w, "%s%s%s: %s\n", prog, envMarker, t.Platform, goenv.Describe(goenv.Build(t.Env, nil)))
	}
}

// EnvironmentReport returns the lines of ReportEnvironment found in log, each once, in the
// order they first appear, with whatever precedes prog on the line (nix's "<drv>> ") cut.
func EnvironmentReport(log, prog string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		for _, m := range []string{prog + compiledMarker, prog + envMarker} {
			if i := strings.Index(line, m); i >= 0 {
				l := strings.TrimRight(line[i:], "\r ")
				if !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			}
		}
	}
	return out
}
