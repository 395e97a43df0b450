package bus_test

import (
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/bus"
)

// FuzzMessagesSubject: whatever a client sends as channel and subtopic, an accepted subject
// is concrete (no wildcard, no empty token) and parses back to the same channel and subtopic.
func FuzzMessagesSubject(f *testing.F) {
	for _, s := range [][2]string{{"c1", ""}, {"c1", "a/b"}, {"c1", "a//b"}, {"c*", "x"}, {"c", "+/#"}, {"c", "a.b"}, {"c", "é/ü"}, {"c", " "}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, channel, subtopic string) {
		s, err := bus.MessagesSubject(channel, subtopic)
		if err != nil {
			return
		}
		for _, tok := range strings.Split(s, ".") {
			if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, "*> \t\r\n") {
				t.Fatalf("MessagesSubject(%q, %q) = %q: token %q is not concrete", channel, subtopic, s, tok)
			}
		}
		ch, sub, err := bus.ParseMessagesSubject(s)
		if err != nil || ch != channel || sub != strings.ReplaceAll(subtopic, "/", ".") {
			t.Fatalf("ParseMessagesSubject(%q) = %q, %q, %v, want %q, %q", s, ch, sub, err, channel, subtopic)
		}
	})
}
