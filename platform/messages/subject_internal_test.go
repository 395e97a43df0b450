package messages

import "testing"

// FuzzPlainTopic: the allocation-free parse of the usual topic agrees with the full one.
func FuzzPlainTopic(f *testing.F) {
	for _, s := range []string{"channels/c/messages", "channels/c/messages/bench", "channels/c/messages/a/b",
		"channels/c.d/messages", "channels/c/messages/", "channels//messages", "channels/c/messages/é", "channels/c/messagesx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		channel, subtopic, ok := parsePlainTopic(topic)
		if !ok {
			return
		}
		wantC, wantS, err := parseTopic(topic, false)
		if err != nil || channel != wantC || subtopic != wantS {
			t.Errorf("parsePlainTopic(%q) = %q, %q; the full parse says %q, %q, %v", topic, channel, subtopic, wantC, wantS, err)
		}
	})
}

func TestPlainTopic(t *testing.T) {
	for _, tc := range []struct {
		topic, channel, subtopic string
		ok                       bool
	}{
		{"channels/c/messages", "c", "", true},
		{"channels/c/messages/bench", "c", "bench", true},
		{"channels/c/messages/a/b", "", "", false}, // the full parse: "a.b"
		{"channels/c*/messages", "", "", false},
		{"channels/c/messages/", "", "", false},
		{"channels/c/messagesx", "", "", false},
		{"channels/c/messages/a b", "", "", false},
	} {
		c, s, ok := parsePlainTopic(tc.topic)
		if c != tc.channel || s != tc.subtopic || ok != tc.ok {
			t.Errorf("parsePlainTopic(%q) = %q, %q, %v; want %q, %q, %v", tc.topic, c, s, ok, tc.channel, tc.subtopic, tc.ok)
		}
	}
}
