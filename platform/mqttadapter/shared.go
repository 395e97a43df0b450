package mqttadapter

import "strings"

// Shared subscriptions (MQTT 5, and accepted from 3.1.1 clients as most brokers do):
// $share/<group>/channels/<id>/messages[/...] is checked like the filter after the group, and
// each message goes to one subscriber of the group, chosen at random by the broker (a
// subscriber refused at delivery, for example because its thing was disconnected from the
// channel a moment before, does not get it and nobody else in the group does). No Local on
// a shared subscription is a protocol error (OnSubscribe).

// unshared returns the filter of a shared subscription without "$share/<group>/", and other
// filters unchanged. A malformed share (no group, or nothing after it) gives "", which no
// access check accepts.
func unshared(filter string) string {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return filter
	}
	group, f, ok := strings.Cut(rest, "/")
	if !ok || group == "" || strings.ContainsAny(group, "+#") || f == "" {
		return ""
	}
	return f
}
