package record

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Check is one line of a verification report.
type Check struct {
	// Name is what was compared: a dist-relative path, or "image <svc> <platform> ...".
	Name string `json:"name"`
	// Pass reports whether it matched.
	Pass bool `json:"pass"`
	// Detail explains a failure: which layer, which file inside it, the two hashes; or why
	// a check was skipped.
	Detail string `json:"detail,omitempty"`
	// Skipped marks a check that did not apply (Pass is true): the evidence check of an
	// unsigned dist/ says so instead of saying nothing.
	Skipped bool `json:"skipped,omitempty"`
}

// Line renders c as "PASS name", "FAIL name: detail" or "SKIP name: detail", and a newline.
func (c Check) Line() string {
	switch {
	case c.Skipped:
		return "SKIP " + c.Name + ": " + c.Detail + "\n"
	case c.Pass:
		return "PASS " + c.Name + "\n"
	}
	return "FAIL " + c.Name + ": " + c.Detail + "\n"
}

// Report is the outcome of a verification, gorebuild style.
type Report struct {
	// Pass is true when every check passed.
	Pass bool `json:"pass"`
	// Version and Commit identify the release verified.
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Checks are in a fixed order: record-level image checks, then files by path.
	Checks []Check `json:"checks"`
}

// Text renders the report as lines "PASS name" / "FAIL name: detail" and a summary.
func (r *Report) Text() string {
	var b strings.Builder
	fails := 0
	skipped := 0
	for _, c := range r.Checks {
		switch {
		case c.Skipped:
			skipped++
		case !c.Pass:
			fails++
		}
		b.WriteString(c.Line())
	}
	if r.Pass {
		fmt.Fprintf(&b, "PASS release %s (%s): %d checks (%d skipped), rebuilt bit for bit\n", r.Version, r.Commit, len(r.Checks), skipped)
	} else {
		fmt.Fprintf(&b, "FAIL release %s (%s): %d of %d checks failed\n", r.Version, r.Commit, fails, len(r.Checks))
	}
	return b.String()
}

// JSON renders the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
