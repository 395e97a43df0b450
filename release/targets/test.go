package targets

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// testTimeout bounds the whole suite; CI must finish within its hour on two cores.
const testTimeout = "50m"

// Test runs every test of the module, the end-to-end ones included, as CI does. It runs
// `go test -json` and prints what `go test` prints for a package list (one ok/FAIL line per
// package, the output of failed tests), plus what a package prints outside its tests (the
// fault tests' counts, for instance), the name and reason of every skipped test, and a
// closing line "N passed, N failed, N skipped" counting top-level tests.
func Test(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-json", "-count=1", "-timeout", testTimeout, "./...")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting go test: %w", err)
	}
	sum, sumErr := summarize(out, os.Stdout)
	runErr := cmd.Wait()
	if sumErr != nil {
		return sumErr
	}
	if runErr != nil {
		return fmt.Errorf("go test: %w (%d failed)", runErr, sum.Failed)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("go test: %d tests failed", sum.Failed)
	}
	return nil
}

// testEvent is one line of `go test -json` (cmd/test2json's TestEvent).
type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// testSummary counts top-level tests by outcome.
type testSummary struct {
	Passed, Failed, Skipped int
}

// summarize reads `go test -json` events from r and writes the readable report to w.
func summarize(r io.Reader, w io.Writer) (testSummary, error) {
	var sum testSummary
	type key struct{ pkg, test string }
	output := map[key][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev testEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			// Not an event (go test prints some build errors as plain text): pass it on.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "build-output":
			fmt.Fprint(w, ev.Output)
		case "output":
			if ev.Test == "" {
				// Package-level output: the ok/FAIL lines and what TestMain prints.
				if ev.Output != "PASS\n" && ev.Output != "FAIL\n" {
					fmt.Fprint(w, ev.Output)
				}
				continue
			}
			output[k] = append(output[k], ev.Output)
		case "pass", "fail", "skip":
			if ev.Test == "" {
				continue
			}
			lines := output[k]
			delete(output, k)
			top := !strings.Contains(ev.Test, "/")
			switch ev.Action {
			case "pass":
				if top {
					sum.Passed++
				}
			case "fail":
				if top {
					sum.Failed++
				}
				fmt.Fprint(w, strings.Join(lines, ""))
			case "skip":
				if top {
					sum.Skipped++
					fmt.Fprintf(w, "SKIP %s %s: %s\n", ev.Package, ev.Test, skipReason(lines))
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sum, fmt.Errorf("reading go test's output: %w", err)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, sum.Skipped)
	if sum.Passed+sum.Failed == 0 {
		return sum, errors.New("go test ran no test")
	}
	return sum, nil
}

// skipReason is the last line a skipped test printed before its "--- SKIP" line.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}
