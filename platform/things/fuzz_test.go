package things_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
)

// FuzzCreate sends arbitrary bodies to POST /things and PUT /channels/<id>: the answer is
// 201/200 or a 4xx with an error object, never a 5xx; a refused POST appends no event.
func FuzzCreate(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":"a","metadata":{"k":[1,{"x":null}]}}`, `{"metadata":null}`,
		`{"metadata":1}`, `{`, `[]`, `null`, `{"name":"a"} {}`, `{"name":"\u0000"}`, ""} {
		f.Add(s)
	}
	// One environment for every run: a bus per run would be too slow.
	e := newEnv(f, bustest.New(f))
	tok := e.user("fuzz@example.com")
	var ch channel
	e.must(201, "POST", "/channels", tok, `{"name":"c"}`, &ch)
	count := func(t *testing.T) int {
		all, err := events.All(context.Background(), e.bus.JS, events.ThingsSubject)
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := count(t)
		r := e.do("POST", "/things", tok, body)
		switch {
		case r.code == 201:
			if got := count(t); got != before+1 {
				t.Fatalf("POST /things %q = 201 with %d new events, want 1", body, got-before)
			}
		case r.code >= 400 && r.code < 500 && strings.Contains(r.body, `"error"`):
			if got := count(t); got != before {
				t.Fatalf("POST /things %q = %d with %d new events, want none", body, r.code, got-before)
			}
		default:
			t.Fatalf("POST /things %q = %d %s, want 201 or a 4xx error", body, r.code, r.body)
		}
		r = e.do("PUT", "/channels/"+ch.ID, tok, body)
		if r.code != 200 && (r.code < 400 || r.code >= 500) {
			t.Fatalf("PUT /channels/id %q = %d %s, want 200 or a 4xx error", body, r.code, r.body)
		}
	})
}
