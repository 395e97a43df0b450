package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GoroutineSummary condenses a goroutine profile in text form (?debug=1: groups of
// "N @ addresses" followed by "#\taddr\tfunction+off\tfile:line" frames) into the n largest
// groups, each shown as its count and its innermost frames of interest: the first frames of
// the module (github.com/cairn-iot/) and the library frame they called. It shows where a
// program that is not busy on the CPU is waiting.
func GoroutineSummary(profile string, n int) string {
	type group struct {
		count  int
		frames []string
	}
	var groups []*group
	var cur *group
	for _, line := range strings.Split(profile, "\n") {
		switch {
		case strings.Contains(line, " @ ") && !strings.HasPrefix(line, "#"):
			c, err := strconv.Atoi(strings.TrimSpace(line[:strings.Index(line, " @ ")]))
			if err != nil {
				cur = nil
				continue
			}
			cur = &group{count: c}
			groups = append(groups, cur)
		case strings.HasPrefix(line, "#\t") && cur != nil:
			f := strings.Split(line, "\t")
			if len(f) >= 3 {
				fn := f[2]
				if i := strings.LastIndex(fn, "+0x"); i > 0 {
					fn = fn[:i]
				}
				cur.frames = append(cur.frames, fn)
			}
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].count > groups[j].count })
	total := 0
	for _, g := range groups {
		total += g.count
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d goroutines in %d distinct stacks; the largest:\n", total, len(groups))
	for i, g := range groups {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "%6d  %s\n", g.count, strings.Join(interesting(g.frames), " <- "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// interesting picks, innermost first, the frame just inside the module's code (what it is
// waiting on) and up to three of the module's own frames; without module frames, the
// innermost three.
func interesting(frames []string) []string {
	const mod = "github.com/cairn-iot/"
	first := -1
	for i, f := range frames {
		if strings.HasPrefix(f, mod) {
			first = i
			break
		}
	}
	if first < 0 {
		return frames[:min(3, len(frames))]
	}
	var out []string
	if first > 0 {
		out = append(out, frames[first-1])
	}
	for _, f := range frames[first:] {
		if len(out) >= 4 {
			break
		}
		if strings.HasPrefix(f, mod) {
			out = append(out, strings.TrimPrefix(f, mod))
		}
	}
	return out
}
