package bootstrap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/events"
)

// FuzzCreate sends arbitrary bodies to POST /things/configs: the answer is 201 or a 4xx
// with an error object, never a 5xx; a refused one appends no event.
func FuzzCreate(f *testing.F) {
	for _, s := range []string{`{"external_id":"a","external_key":"k"}`, `{"external_id":"a","external_key":"k","channels":["x"]}`,
		`{"external_id":"a","external_key":"k","thing_id":"00000000-0000-7000-8000-000000000000"}`, `{"channels":null}`,
		`{`, `[]`, `null`, `{"external_id":"\u0000","external_key":"\u0000"}`, ""} {
		f.Add(s)
	}
	p := allInOne(f)
	owner := p.user("fuzz@example.com")
	count := func(t *testing.T) int {
		all, err := events.All(context.Background(), p.bus.JS, events.BootstrapSubject)
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	f.Fuzz(func(t *testing.T, body string) {
		q := *p
		q.t = t // the helpers report to the run, not to f
		before := count(t)
		code, resp := q.send("POST", "/things/configs", owner, body)
		switch {
		case code == 201:
			if got := count(t); got != before+1 {
				t.Fatalf("POST %q = 201 with %d new events, want 1", body, got-before)
			}
		case code >= 400 && code < 500 && strings.Contains(string(resp), `"error"`):
			if got := count(t); got != before {
				t.Fatalf("POST %q = %d with %d new events, want none", body, code, got-before)
			}
		default:
			t.Fatalf("POST %q = %d %s, want 201 or a 4xx error", body, code, resp)
		}
	})
}
