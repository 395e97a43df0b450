package messages

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cairn-iot/cairn/platform/bus"
)

// Names on the bus and in MQTT. A channel message travels on the NATS subject
// channels.<channel>.messages[.<subtopic>] where the subtopic is "." separated, and is seen
// by MQTT clients on the topic channels/<channel>/messages[/<subtopic with "/">]. An empty
// MQTT topic level (channels/<id>/messages//a, or a trailing /), legal in MQTT but not in a
// NATS subject, is the subtopic level EmptyLevel: "/", which no level name can contain.
const (
	// Stream is the JetStream stream that holds every channel message: the store.
	Stream = bus.MessagesStream
)

// EmptyLevel stands for an empty MQTT topic level in a subtopic and its NATS subject.
const EmptyLevel = "/"

// Filters are the subject filters that match every channel's messages.
var Filters = []string{"channels.*.messages", "channels.*.messages.>"}

// ChannelFilters returns the subject filters that match the messages of one channel.
func ChannelFilters(channel string) []string {
	return []string{"channels." + channel + ".messages", "channels." + channel + ".messages.>"}
}

// ValidName reports whether s can be a channel id or one subtopic level: not empty, and free
// of the characters that are separators or wildcards in NATS subjects or MQTT topics
// (. * > / + #), of white space and of control characters.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case strings.ContainsRune(".*>/+#", r), unicode.IsSpace(r), unicode.IsControl(r), r == unicode.ReplacementChar:
			return false
		}
	}
	return true
}

// Subtopic joins subtopic levels (MQTT topic levels or URL path segments) into the "."
// separated subtopic of a Message; an empty level becomes EmptyLevel. No levels give the
// empty subtopic.
func Subtopic(levels []string) (string, error) {
	out := make([]string, len(levels))
	for i, l := range levels {
		if l == "" {
			out[i] = EmptyLevel
			continue
		}
		if !ValidName(l) {
			return "", fmt.Errorf("subtopic level %q is not allowed: use levels without . * > / + # or white space", l)
		}
		out[i] = l
	}
	return strings.Join(out, "."), nil
}

// levels splits a subtopic into its MQTT topic levels (EmptyLevel back to "").
func levels(subtopic string) []string {
	ls := strings.Split(subtopic, ".")
	for i, l := range ls {
		if l == EmptyLevel {
			ls[i] = ""
		}
	}
	return ls
}

// Subject returns the NATS subject of a message on channel with subtopic ("" for none).
func Subject(channel, subtopic string) string {
	if subtopic == "" {
		return "channels." + channel + ".messages"
	}
	return "channels." + channel + ".messages." + subtopic
}

// ParseSubject is the inverse of Subject.
func ParseSubject(subject string) (channel, subtopic string, err error) {
	parts := strings.SplitN(subject, ".", 4)
	if len(parts) < 3 || parts[0] != "channels" || parts[2] != "messages" || !ValidName(parts[1]) {
		return "", "", fmt.Errorf("subject %q is not a channel message subject channels.<id>.messages[.<subtopic>]", subject)
	}
	if len(parts) == 4 {
		if _, err := Subtopic(levels(parts[3])); err != nil {
			return "", "", fmt.Errorf("subject %q: %w", subject, err)
		}
		subtopic = parts[3]
	}
	return parts[1], subtopic, nil
}

// Topic returns the MQTT topic of a message on channel with subtopic.
func Topic(channel, subtopic string) string {
	if subtopic == "" {
		return "channels/" + channel + "/messages"
	}
	if !strings.Contains(subtopic, EmptyLevel) {
		return "channels/" + channel + "/messages/" + strings.ReplaceAll(subtopic, ".", "/")
	}
	return "channels/" + channel + "/messages/" + strings.Join(levels(subtopic), "/")
}

// ParseTopic splits an MQTT topic channels/<id>/messages[/<subtopic>] into its channel and
// "." separated subtopic. With filter set, the subtopic levels may also be the MQTT
// wildcards + and # (the last level only); the channel must always be a concrete id, since
// access is granted per channel. The returned subtopic of a filter is meaningless.
func ParseTopic(topic string, filter bool) (channel, subtopic string, err error) {
	if !filter {
		// Every MQTT PUBLISH is parsed (twice: access check, then storage): the usual
		// topic, ASCII with at most one subtopic level, is parsed without allocating.
		if channel, subtopic, ok := parsePlainTopic(topic); ok {
			return channel, subtopic, nil
		}
	}
	return parseTopic(topic, filter)
}

// parseTopic is ParseTopic without the fast path.
func parseTopic(topic string, filter bool) (channel, subtopic string, err error) {
	levels := strings.Split(topic, "/")
	if len(levels) < 3 || levels[0] != "channels" || levels[2] != "messages" {
		return "", "", fmt.Errorf("topic %q is not channels/<channel id>/messages[/<subtopic>]", topic)
	}
	if !ValidName(levels[1]) {
		return "", "", fmt.Errorf("topic %q: channel id %q is not a concrete channel id", topic, levels[1])
	}
	rest := levels[3:]
	if filter {
		for i, l := range rest {
			if l == "" || l == "+" || (l == "#" && i == len(rest)-1) {
				continue
			}
			if !ValidName(l) {
				return "", "", fmt.Errorf("topic filter %q: level %q is not allowed: use names, + or a final #", topic, l)
			}
		}
		return levels[1], "", nil
	}
	subtopic, err = Subtopic(rest)
	if err != nil {
		return "", "", fmt.Errorf("topic %q: %w", topic, err)
	}
	return levels[1], subtopic, nil
}

// parsePlainTopic parses channels/<channel>/messages[/<level>] when every byte is printable
// ASCII; ok is false for anything else, which ParseTopic then parses in full (and refuses,
// or accepts with several levels or non-ASCII names).
func parsePlainTopic(topic string) (channel, subtopic string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "channels/")
	if !ok {
		return "", "", false
	}
	channel, rest, ok = strings.Cut(rest, "/")
	if !ok || !plainName(channel) {
		return "", "", false
	}
	if rest == "messages" {
		return channel, "", true
	}
	subtopic, ok = strings.CutPrefix(rest, "messages/")
	if !ok || !plainName(subtopic) {
		return "", "", false
	}
	return channel, subtopic, true
}

// plainName reports whether s is a non-empty printable-ASCII ValidName.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f, c == '.', c == '*', c == '>', c == '/', c == '+', c == '#':
			return false
		}
	}
	return true
}
