package bus

import (
	"fmt"
	"strings"
	"unicode"
)

// AccessSubject is the request-reply subject the things service answers access questions on
// (thingsv1.AccessRequest -> thingsv1.AccessResponse); see package access.
const AccessSubject = "cairn.things.access"

// MessagesSubject returns the subject a message to channel with subtopic travels on:
// "channels.<channel>.messages", followed by ".<token>" for each token of subtopic.
// subtopic is in the adapters' form, "/"-separated ("a/b" becomes tokens "a.b"); "" for none.
// Empty tokens, wildcards (+ # * >), dots, whitespace and control characters are refused.
func MessagesSubject(channel, subtopic string) (string, error) {
	if err := checkToken(channel); err != nil {
		return "", fmt.Errorf("channel id %q: %w", channel, err)
	}
	s := "channels." + channel + ".messages"
	if subtopic == "" {
		return s, nil
	}
	dotted, err := Subtopic(subtopic)
	if err != nil {
		return "", err
	}
	return s + "." + dotted, nil
}

// Subtopic turns a "/"-separated subtopic ("a/b") into its "."-separated subject form ("a.b"),
// as stored in messagingv1.Message.Subtopic. It refuses what MessagesSubject refuses.
func Subtopic(subtopic string) (string, error) {
	tokens := strings.Split(subtopic, "/")
	for _, t := range tokens {
		if err := checkToken(t); err != nil {
			return "", fmt.Errorf("subtopic %q: %w", subtopic, err)
		}
	}
	return strings.Join(tokens, "."), nil
}

// ChannelSubjects returns the subject filters that match every message of channel, with or
// without a subtopic (for consumers of MESSAGES).
func ChannelSubjects(channel string) ([]string, error) {
	if err := checkToken(channel); err != nil {
		return nil, fmt.Errorf("channel id %q: %w", channel, err)
	}
	s := "channels." + channel + ".messages"
	return []string{s, s + ".>"}, nil
}

// ParseMessagesSubject splits a subject of MESSAGES into the channel id and the dotted
// subtopic ("" when there is none).
func ParseMessagesSubject(subject string) (channel, subtopic string, err error) {
	tokens := strings.Split(subject, ".")
	if len(tokens) < 3 || tokens[0] != "channels" || tokens[2] != "messages" {
		return "", "", fmt.Errorf("subject %q is not channels.<id>.messages[.<subtopic>]", subject)
	}
	return tokens[1], strings.Join(tokens[3:], "."), nil
}

// CheckID reports whether id can be a channel or thing id in a subject (one NATS token).
func CheckID(id string) error {
	if err := checkToken(id); err != nil {
		return fmt.Errorf("id %q: %w", id, err)
	}
	return nil
}

func checkToken(t string) error {
	if t == "" {
		return fmt.Errorf("empty token; remove the doubled, leading or trailing separator")
	}
	for _, r := range t {
		switch {
		case r == '.', r == '/':
			return fmt.Errorf("token %q contains the separator %q", t, r)
		case r == '*', r == '>', r == '+', r == '#':
			return fmt.Errorf("token %q contains the wildcard %q; publish to a concrete topic", t, r)
		case unicode.IsSpace(r), unicode.IsControl(r):
			return fmt.Errorf("token %q contains whitespace or a control character", t)
		}
	}
	return nil
}
