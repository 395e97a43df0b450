package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status is the verdict of one figure against its target.
type Status string

// Statuses. Info is a figure without a target; Error is a measurement that could not be
// taken (it counts as a miss).
const (
	Pass  Status = "PASS"
	Miss  Status = "MISS"
	Info  Status = "-"
	Error Status = "ERROR"
)

// Target is what a figure is measured against: Value Op Target.Value must hold.
type Target struct {
	// Op is one of "<", "<=", ">", ">=".
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Holds reports whether v meets the target.
func (t Target) Holds(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	}
	return false
}

// Figure is one measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Unit decides the formatting: "s", "x" (a ratio), "MB/s", "B", "MiB", "msg/s", "ms",
	// "" (a count).
	Unit   string  `json:"unit"`
	Target *Target `json:"target,omitempty"`
	// Err is set when the figure could not be measured.
	Err  string `json:"error,omitempty"`
	Note string `json:"note,omitempty"`
}

// Status returns the figure's verdict.
func (f Figure) Status() Status {
	switch {
	case f.Err != "", math.IsNaN(f.Value), math.IsInf(f.Value, 0):
		return Error
	case f.Target == nil:
		return Info
	case f.Target.Holds(f.Value):
		return Pass
	}
	return Miss
}

// MarshalJSON adds the status to the figure's JSON; a value that is not a number (a ratio
// over nothing) is null.
func (f Figure) MarshalJSON() ([]byte, error) {
	var v *float64
	if !math.IsNaN(f.Value) && !math.IsInf(f.Value, 0) {
		v = &f.Value
	}
	return json.Marshal(struct {
		Name   string   `json:"name"`
		Value  *float64 `json:"value"`
		Unit   string   `json:"unit"`
		Target *Target  `json:"target,omitempty"`
		Status Status   `json:"status"`
		Err    string   `json:"error,omitempty"`
		Note   string   `json:"note,omitempty"`
	}{f.Name, v, f.Unit, f.Target, f.Status(), f.Err, f.Note})
}

// Section is a group of figures with free-text notes (how it was measured, profiles).
type Section struct {
	Title   string   `json:"title"`
	Figures []Figure `json:"figures"`
	// Notes are lines of text; one with a newline is shown as a block, one that starts
	// with "|" as a markdown table.
	Notes []string `json:"notes,omitempty"`
	// Data holds the raw measurements behind the figures, for the JSON report.
	Data any `json:"data,omitempty"`
}

// Add appends a figure.
func (s *Section) Add(f Figure) { s.Figures = append(s.Figures, f) }

// Notef appends a note.
func (s *Section) Notef(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// Report is the whole benchmark report.
type Report struct {
	Version  string            `json:"version"`
	Commit   string            `json:"commit"`
	Machine  map[string]string `json:"machine"`
	Sections []*Section        `json:"sections"`
}

// Section returns the section titled title, creating it at the end if needed.
func (r *Report) Section(title string) *Section {
	for _, s := range r.Sections {
		if s.Title == title {
			return s
		}
	}
	s := &Section{Title: title}
	r.Sections = append(r.Sections, s)
	return s
}

// Count returns how many figures have each status.
func (r *Report) Count() map[Status]int {
	n := map[Status]int{}
	for _, s := range r.Sections {
		for _, f := range s.Figures {
			n[f.Status()]++
		}
	}
	return n
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	return append(b, '\n'), nil
}

// Markdown is the report for humans: one table per section, every figure next to its target.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Cairn benchmarks\n\n")
	fmt.Fprintf(&b, "Version %s, commit %s.", r.Version, r.Commit)
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s: %s.", k, r.Machine[k])
	}
	n := r.Count()
	fmt.Fprintf(&b, "\n\nTargets: %d PASS, %d MISS, %d ERROR.\n", n[Pass], n[Miss], n[Error])
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Title)
		if len(s.Figures) > 0 {
			b.WriteString("| figure | value | target | result |\n|---|---:|---|---|\n")
			for _, f := range s.Figures {
				val := FormatValue(f.Value, f.Unit)
				if f.Err != "" {
					val = "error: " + cell(f.Err)
				}
				tgt := ""
				if f.Target != nil {
					tgt = f.Target.Op + " " + FormatValue(f.Target.Value, f.Unit)
				}
				name := cell(f.Name)
				if f.Note != "" {
					name += " (" + cell(f.Note) + ")"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, val, tgt, f.Status())
			}
		}
		for i, note := range s.Notes {
			if i == 0 && len(s.Figures) > 0 {
				b.WriteString("\n")
			}
			if strings.HasPrefix(note, "|") {
				fmt.Fprintf(&b, "\n%s\n\n", strings.TrimRight(note, "\n"))
			} else if strings.Contains(note, "\n") {
				fmt.Fprintf(&b, "```\n%s\n```\n", strings.TrimRight(note, "\n"))
			} else {
				fmt.Fprintf(&b, "- %s\n", note)
			}
		}
	}
	return b.Bytes()
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// FormatValue formats v for its unit.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch unit {
	case "s":
		return strconv.FormatFloat(v, 'f', 2, 64) + " s"
	case "ms":
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case "x":
		return strconv.FormatFloat(v, 'f', 2, 64) + "x"
	case "MB/s", "MiB":
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	case "B", "msg/s", "":
		s := group(int64(math.Round(v)))
		if unit != "" {
			s += " " + unit
		}
		return s
	}
	return strconv.FormatFloat(v, 'g', 6, 64) + " " + unit
}

// group writes n with thousands separators: 1234567 -> "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Write writes report.md and report.json into dir, each through a temporary file renamed
// into place, so a reader never sees half a report.
func (r *Report) Write(dir string) error {
	js, err := r.JSON()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"report.json", js}, {"report.md", r.Markdown()}} {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the nearest-rank method;
// ds need not be sorted and is not changed. It returns 0 for no samples.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// Ratio returns a/b, NaN if b is not positive.
func Ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}
