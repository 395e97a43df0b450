package targets

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	events := strings.Join([]string{
		`{"Action":"start","Package":"p/a"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"noise of a passing test\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK/sub"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK/sub"}`,
		`{"Action":"run","Package":"p/a","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    a_test.go:9: F(x) = 1, want 2\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestBad"}`,
		`{"Action":"run","Package":"p/a","Test":"TestTool"}`,
		`{"Action":"output","Package":"p/a","Test":"TestTool","Output":"    t.go:3: skopeo not found on PATH\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestTool","Output":"--- SKIP: TestTool (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/a","Test":"TestTool"}`,
		`{"Action":"output","Package":"p/a","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p/a","Output":"FAIL\tp/a\t0.1s\n"}`,
		`{"Action":"fail","Package":"p/a"}`,
		`{"Action":"output","Package":"p/b","Output":"faults: injected 3, survived 3\n"}`,
		`{"Action":"output","Package":"p/b","Output":"PASS\n"}`,
		`{"Action":"output","Package":"p/b","Output":"ok  \tp/b\t0.2s\n"}`,
		`{"Action":"pass","Package":"p/b"}`,
		`# p/c [build failed]`,
	}, "\n")
	var out bytes.Buffer
	sum, err := summarize(strings.NewReader(events), &out)
	if err != nil {
		t.Fatalf("summarize() error = %v", err)
	}
	if want := (testSummary{Passed: 1, Failed: 1, Skipped: 1}); sum != want {
		t.Errorf("summarize() = %+v, want %+v", sum, want)
	}
	want := "    a_test.go:9: F(x) = 1, want 2\n--- FAIL: TestBad (0.00s)\n" +
		"SKIP p/a TestTool: t.go:3: skopeo not found on PATH\n" +
		"FAIL\tp/a\t0.1s\n" +
		"faults: injected 3, survived 3\n" +
		"ok  \tp/b\t0.2s\n" +
		"# p/c [build failed]\n" +
		"1 passed, 1 failed, 1 skipped\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("summarize() output mismatch (-want +got):\n%s", diff)
	}
}

func TestSummarizeNoTests(t *testing.T) {
	var out bytes.Buffer
	if _, err := summarize(strings.NewReader(`{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s [no tests to run]\n"}`), &out); err == nil {
		t.Fatal("summarize() of a run without tests = nil error, want an error")
	}
}
