package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		f    Figure
		want Status
	}{
		{"no target", Figure{Value: 3}, Info},
		{"below bound", Figure{Value: 1.9, Target: &Target{"<", 2}}, Pass},
		{"at strict bound", Figure{Value: 2, Target: &Target{"<", 2}}, Miss},
		{"at inclusive bound", Figure{Value: 1.15, Target: &Target{"<=", 1.15}}, Pass},
		{"over inclusive bound", Figure{Value: 1.16, Target: &Target{"<=", 1.15}}, Miss},
		{"above", Figure{Value: 25000, Target: &Target{">=", 20000}}, Pass},
		{"short", Figure{Value: 19999, Target: &Target{">=", 20000}}, Miss},
		{"strictly faster", Figure{Value: 80, Target: &Target{">", 80}}, Miss},
		{"error wins", Figure{Value: 1, Target: &Target{"<", 2}, Err: "boom"}, Error},
		{"NaN is an error", Figure{Value: math.NaN(), Target: &Target{"<", 2}}, Error},
		{"unknown op never passes", Figure{Value: 1, Target: &Target{"~", 1}}, Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Status(); got != tt.want {
				t.Errorf("%+v.Status() = %s, want %s", tt.f, got, tt.want)
			}
		})
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{1.234, "s", "1.23 s"},
		{1.15, "x", "1.15x"},
		{123.456, "MB/s", "123.5 MB/s"},
		{4095, "B", "4,095 B"},
		{1234567.4, "msg/s", "1,234,567 msg/s"},
		{-1234, "B", "-1,234 B"},
		{12, "", "12"},
		{0.5, "ms", "0.50 ms"},
		{math.NaN(), "x", "n/a"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func fakeReport() *Report {
	r := &Report{Version: "v1.2.3", Commit: "abc", Machine: map[string]string{"cpus": "2"}}
	s := r.Section("Release pipeline")
	s.Add(Figure{Name: "release, cold", Value: 100, Unit: "s"})
	s.Add(Figure{Name: "cold release / floor", Value: 1.3, Unit: "x", Target: &Target{"<=", 1.15}})
	s.Add(Figure{Name: "release, nothing changed", Value: 1.5, Unit: "s", Target: &Target{"<", 2}})
	s.Notef("phases:\n  1.00s  building")
	p := r.Section("Platform")
	p.Add(Figure{Name: "HTTP | stored", Value: 25000, Unit: "msg/s", Target: &Target{">=", 20000}, Note: "16 clients"})
	p.Add(Figure{Name: "MQTT stored", Unit: "msg/s", Target: &Target{">=", 100000}, Err: "connecting: refused"})
	p.Notes = append(p.Notes, "| a | b |\n|---|---|\n| 1 | 2 |")
	p.Notef("one line")
	return r
}

func TestMarkdown(t *testing.T) {
	md := string(fakeReport().Markdown())
	for _, want := range []string{
		"Version v1.2.3, commit abc. cpus: 2.",
		"Targets: 2 PASS, 1 MISS, 1 ERROR.",
		"## Release pipeline",
		"| release, cold | 100.00 s |  | - |",
		"| cold release / floor | 1.30x | <= 1.15x | MISS |",
		"| release, nothing changed | 1.50 s | < 2.00 s | PASS |",
		"| HTTP \\| stored (16 clients) | 25,000 msg/s | >= 20,000 msg/s | PASS |",
		"| MQTT stored | error: connecting: refused | >= 100,000 msg/s | ERROR |",
		"```\nphases:\n  1.00s  building\n```\n",
		"\n| a | b |\n|---|---|\n| 1 | 2 |\n",
		"- one line\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown() does not contain %q; got:\n%s", want, md)
		}
	}
}

func TestJSON(t *testing.T) {
	r := fakeReport()
	r.Section("Platform").Add(Figure{Name: "ratio over nothing", Value: Ratio(1, 0), Unit: "x", Target: &Target{"<", 1}})
	b, err := r.JSON()
	if err != nil {
		t.Fatalf("JSON() error: %v", err)
	}
	var got struct {
		Sections []struct {
			Figures []struct {
				Name   string
				Value  *float64
				Status string
				Error  string
			}
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, b)
	}
	type fig struct {
		Name, Status string
		Value        float64
		Null         bool
	}
	var figs []fig
	for _, s := range got.Sections {
		for _, f := range s.Figures {
			g := fig{Name: f.Name, Status: f.Status, Null: f.Value == nil}
			if f.Value != nil {
				g.Value = *f.Value
			}
			figs = append(figs, g)
		}
	}
	want := []fig{
		{"release, cold", "-", 100, false},
		{"cold release / floor", "MISS", 1.3, false},
		{"release, nothing changed", "PASS", 1.5, false},
		{"HTTP | stored", "PASS", 25000, false},
		{"MQTT stored", "ERROR", 0, false},
		{"ratio over nothing", "ERROR", 0, true},
	}
	if diff := cmp.Diff(want, figs); diff != "" {
		t.Errorf("JSON() figures (-want +got):\n%s", diff)
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	r := fakeReport()
	if err := r.Write(dir); err != nil {
		t.Fatalf("Write: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"report.json", "report.md"}, names); diff != "" {
		t.Errorf("files after Write (-want +got), no temporary files left:\n%s", diff)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if string(md) != string(r.Markdown()) {
		t.Errorf("report.md differs from Markdown()")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	want, _ := r.JSON()
	if string(js) != string(want) {
		t.Errorf("report.json differs from JSON()")
	}
}

func TestWriteRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if err := fakeReport().Write(f); err == nil {
		t.Errorf("Write(a regular file) = nil, want an error")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var d []time.Duration
		for _, n := range ns {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	in := ms(9, 1, 8, 2, 7, 3, 6, 4, 5, 10) // unsorted on purpose
	tests := []struct {
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{in, 50, 5 * time.Millisecond},
		{in, 90, 9 * time.Millisecond},
		{in, 99, 10 * time.Millisecond},
		{in, 100, 10 * time.Millisecond},
		{in, 1, 1 * time.Millisecond},
		{ms(7), 50, 7 * time.Millisecond},
		{nil, 50, 0},
	}
	for _, tt := range tests {
		if got := Percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
		}
	}
	if in[0] != 9*time.Millisecond {
		t.Errorf("Percentile sorted its input in place")
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(3, 2); got != 1.5 {
		t.Errorf("Ratio(3, 2) = %v, want 1.5", got)
	}
	if got := Ratio(3, 0); !math.IsNaN(got) {
		t.Errorf("Ratio(3, 0) = %v, want NaN", got)
	}
}

func TestReleasePhases(t *testing.T) {
	tl := &Timeline{}
	for _, l := range []struct {
		at   float64
		text string
	}{
		{30, "release abc: no complete release in /x/dist"},
		{31, "checking lock/ against reality"},
		{33, "building 7 services for 2 platforms with /go"},
		{90, "built cairn for linux/amd64 (1 of 14, 57.0s)"},
		{150, "image cairn sha256:1"},
		{151, "image users sha256:2"},
		{157, "signing: COSIGN_KEY is not set"},
		{160, "signed cairn sha256:1: dist/cosign/cairn"},
		{161, "packages: archives, .debs and signed checksums of abc into dist/packages"},
		{195, "packages: cairn_linux_amd64.tar.gz sha256:3"},
		{196, "release abc (abcdef) written to /x/dist"},
	} {
		tl.Lines = append(tl.Lines, Line{At: time.Duration(l.at * float64(time.Second)), Text: l.text})
	}
	got := tl.ReleasePhases(197 * time.Second)
	want := []Phase{
		{"compiling cairn-release (go run), up-to-date check", 31 * time.Second},
		{"lock check", 2 * time.Second},
		{"go builds (14 binaries)", 117 * time.Second},
		{"image assembly", 7 * time.Second},
		{"signatures, SBOM and provenance", 4 * time.Second},
		{"archives and .debs, fingerprint, swap", 35 * time.Second},
		{"exit", 1 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReleasePhases (-want +got):\n%s", diff)
	}
}
