package access_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

const (
	thing1, key1   = "thing-1", "key-1"
	thing2, key2   = "thing-2", "key-2"
	chan1, chan2   = "chan-1", "chan-2"
	publish, subsc = thingsv1.Action_ACTION_PUBLISH, thingsv1.Action_ACTION_SUBSCRIBE
)

// things is a fake things service whose answers the test changes, counting the questions.
type things struct {
	mu      sync.Mutex
	asked   int
	status  map[string]thingsv1.AccessResponse_Status // by key + " " + channel
	err     error
	during  func() // called while a question is being answered
	thingOf map[string]string
}

func newThings() *things {
	return &things{
		status:  map[string]thingsv1.AccessResponse_Status{},
		thingOf: map[string]string{key1: thing1, key2: thing2},
	}
}

func (f *things) set(key, channel string, st thingsv1.AccessResponse_Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[key+" "+channel] = st
}

func (f *things) Authorize(_ context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	f.mu.Lock()
	f.asked++
	during, err := f.during, f.err
	st, ok := f.status[req.GetKey()+" "+req.GetChannel()]
	thing := f.thingOf[req.GetKey()]
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if err != nil {
		return nil, err
	}
	if thing == "" {
		return &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_UNAUTHENTICATED}, nil
	}
	if !ok {
		st = thingsv1.AccessResponse_STATUS_NOT_FOUND
	}
	return &thingsv1.AccessResponse{Status: st, ThingId: thing}, nil
}

func (f *things) questions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCache(t *testing.T, f *things, opts ...access.CacheOption) (*access.Cache, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1700000000, 0)}
	c, err := access.NewCache(f, append([]access.CacheOption{access.WithCacheClock(clk.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func ask(t *testing.T, c *access.Cache, key, thingID, channel string, action thingsv1.Action) thingsv1.AccessResponse_Status {
	t.Helper()
	resp, err := c.Authorize(context.Background(), &thingsv1.AccessRequest{Key: key, ThingId: thingID, Channel: channel, Action: action})
	if err != nil {
		t.Fatalf("Authorize(%s, %s, %s): %v", key, channel, action, err)
	}
	return resp.GetStatus()
}

const (
	allowed   = thingsv1.AccessResponse_STATUS_ALLOWED
	forbidden = thingsv1.AccessResponse_STATUS_FORBIDDEN
	notFound  = thingsv1.AccessResponse_STATUS_NOT_FOUND
	unauthd   = thingsv1.AccessResponse_STATUS_UNAUTHENTICATED
)

func TestCacheReusesAnswers(t *testing.T) {
	f := newThings()
	f.set(key1, chan1, allowed)
	c, _ := newCache(t, f)
	for range 3 {
		if got := ask(t, c, key1, "", chan1, publish); got != allowed {
			t.Fatalf("Authorize(key1, chan1) = %v, want %v", got, allowed)
		}
	}
	if got := f.questions(); got != 1 {
		t.Errorf("things service asked %d times for 3 identical questions, want 1", got)
	}
	// Another action, thing id, channel or key is another question.
	ask(t, c, key1, "", chan1, subsc)
	ask(t, c, key1, thing1, chan1, publish)
	ask(t, c, key1, "", chan2, publish)
	ask(t, c, key2, "", chan1, publish)
	if got := f.questions(); got != 5 {
		t.Errorf("things service asked %d times after 4 different questions, want 5", got)
	}
	// The answer names the key's thing, also from the cache.
	resp, err := c.Authorize(context.Background(), &thingsv1.AccessRequest{Key: key1, Channel: chan1, Action: publish})
	if err != nil || resp.GetThingId() != thing1 {
		t.Errorf("cached answer = %v, %v; want thing id %s", resp, err, thing1)
	}
}

// TestCacheInvalidation: each things event that can change an answer drops the cached
// answers it concerns, so the next question reaches the things service and its new answer.
func TestCacheInvalidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		before   thingsv1.AccessResponse_Status // key1 on chan1
		after    thingsv1.AccessResponse_Status
		event    map[string]string
		thingID  string // asked with a thing id (MQTT) or not (HTTP)
		keepsHim bool   // key2's answer on chan2 survives
	}{
		{"thing.disconnect", allowed, forbidden, map[string]string{"operation": "thing.disconnect", "chan_id": chan1, "thing_id": thing1}, "", true},
		{"thing.disconnect, MQTT question", allowed, forbidden, map[string]string{"operation": "thing.disconnect", "chan_id": chan1, "thing_id": thing1}, thing1, true},
		{"thing.connect", forbidden, allowed, map[string]string{"operation": "thing.connect", "chan_id": chan1, "thing_id": thing1}, "", true},
		{"thing.remove", allowed, unauthd, map[string]string{"operation": "thing.remove", "id": thing1}, "", true},
		{"thing.remove, MQTT question", allowed, unauthd, map[string]string{"operation": "thing.remove", "id": thing1}, thing1, true},
		{"channel.remove", allowed, notFound, map[string]string{"operation": "channel.remove", "id": chan1}, "", true},
		{"channel.create", notFound, forbidden, map[string]string{"operation": "channel.create", "id": chan1, "owner": "u"}, "", true},
		{"unknown operation drops everything", allowed, forbidden, map[string]string{"operation": "thing.rotate_key", "id": thing1}, "", false},
		{"no operation drops everything", allowed, forbidden, map[string]string{"id": thing1}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newThings()
			f.set(key1, chan1, tc.before)
			f.set(key2, chan2, allowed)
			c, _ := newCache(t, f)
			if got := ask(t, c, key1, tc.thingID, chan1, publish); got != tc.before {
				t.Fatalf("before: Authorize = %v, want %v", got, tc.before)
			}
			ask(t, c, key2, "", chan2, publish)
			f.set(key1, chan1, tc.after)
			if got := ask(t, c, key1, tc.thingID, chan1, publish); got != tc.before {
				t.Fatalf("before the event: Authorize = %v, want the cached %v", got, tc.before)
			}
			n := f.questions()
			c.Apply(tc.event)
			if got := ask(t, c, key1, tc.thingID, chan1, publish); got != tc.after {
				t.Errorf("after %v: Authorize = %v, want %v", tc.event, got, tc.after)
			}
			ask(t, c, key2, "", chan2, publish)
			wantAsked := n + 1
			if !tc.keepsHim {
				wantAsked = n + 2
			}
			if got := f.questions(); got != wantAsked {
				t.Errorf("after %v: things service asked %d more times, want %d (key2 on chan2 kept: %v)", tc.event, got-n, wantAsked-n, tc.keepsHim)
			}
		})
	}
}

func TestCacheThingCreateDropsUnauthenticated(t *testing.T) {
	f := newThings()
	f.set(key1, chan1, allowed)
	c, _ := newCache(t, f)
	if got := ask(t, c, "new-key", "", chan1, publish); got != unauthd {
		t.Fatalf("unknown key: Authorize = %v, want %v", got, unauthd)
	}
	ask(t, c, key1, "", chan1, publish)
	f.mu.Lock()
	f.thingOf["new-key"] = "thing-new"
	f.mu.Unlock()
	f.set("new-key", chan1, allowed)
	c.Apply(map[string]string{"operation": "thing.create", "id": "thing-new", "owner": "u"})
	if got := ask(t, c, "new-key", "", chan1, publish); got != allowed {
		t.Errorf("after thing.create: Authorize = %v, want %v", got, allowed)
	}
	n := f.questions()
	ask(t, c, key1, "", chan1, publish)
	if got := f.questions(); got != n {
		t.Errorf("thing.create dropped key1's grant (things service asked again)")
	}
}

func TestCacheIgnoresUpdates(t *testing.T) {
	f := newThings()
	f.set(key1, chan1, allowed)
	c, _ := newCache(t, f)
	ask(t, c, key1, "", chan1, publish)
	for _, op := range []string{"thing.update", "channel.update"} {
		c.Apply(map[string]string{"operation": op, "id": thing1, "name": "renamed"})
		c.Apply(map[string]string{"operation": op, "id": chan1, "name": "renamed"})
	}
	ask(t, c, key1, "", chan1, publish)
	if got := f.questions(); got != 1 {
		t.Errorf("after updates, things service asked %d times, want 1 (the answer kept)", got)
	}
}

// TestCacheTTL: a missed event is bounded by the TTLs: grants and refusals expire.
func TestCacheTTL(t *testing.T) {
	for _, tc := range []struct {
		name          string
		status        thingsv1.AccessResponse_Status
		key           string
		still, expire time.Duration
	}{
		{"grant", allowed, key1, 9 * time.Second, time.Second},
		{"forbidden", forbidden, key1, 1900 * time.Millisecond, 100 * time.Millisecond},
		{"not found", notFound, key1, 1900 * time.Millisecond, 100 * time.Millisecond},
		{"unauthenticated", unauthd, "unknown-key", 1900 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newThings()
			f.set(tc.key, chan1, tc.status)
			c, clk := newCache(t, f, access.WithTTL(10*time.Second, 2*time.Second))
			ask(t, c, tc.key, "", chan1, publish)
			clk.advance(tc.still)
			ask(t, c, tc.key, "", chan1, publish)
			if got := f.questions(); got != 1 {
				t.Fatalf("%v after the answer: things service asked %d times, want 1", tc.still, got)
			}
			clk.advance(tc.expire)
			ask(t, c, tc.key, "", chan1, publish)
			if got := f.questions(); got != 2 {
				t.Errorf("%v after the answer: things service asked %d times, want 2 (expired)", tc.still+tc.expire, got)
			}
		})
	}
}

// TestCacheAnswerDuringEvent: an answer asked while an event was applied may predate the
// event, so it is returned but not kept.
func TestCacheAnswerDuringEvent(t *testing.T) {
	f := newThings()
	f.set(key1, chan1, allowed)
	c, _ := newCache(t, f)
	f.during = func() {
		c.Apply(map[string]string{"operation": "thing.disconnect", "chan_id": chan1, "thing_id": thing1})
	}
	if got := ask(t, c, key1, "", chan1, publish); got != allowed {
		t.Fatalf("Authorize = %v, want %v", got, allowed)
	}
	f.mu.Lock()
	f.during = nil
	f.mu.Unlock()
	f.set(key1, chan1, forbidden)
	if got := ask(t, c, key1, "", chan1, publish); got != forbidden {
		t.Errorf("after a disconnect applied during the first question: Authorize = %v, want %v (the first answer not kept)", got, forbidden)
	}
}

func TestCacheAsksAlways(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *thingsv1.AccessRequest
		err  error
	}{
		{"user token", &thingsv1.AccessRequest{Token: "tok", Channel: chan1, Action: thingsv1.Action_ACTION_READ}, nil},
		{"no credential", &thingsv1.AccessRequest{Channel: chan1, Action: publish}, nil},
		{"error", &thingsv1.AccessRequest{Key: key1, Channel: chan1, Action: publish}, errors.New("no things service")},
		{"invalid", &thingsv1.AccessRequest{Key: key1, Channel: "invalid", Action: publish}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newThings()
			f.err = tc.err
			f.set(key1, "invalid", thingsv1.AccessResponse_STATUS_INVALID)
			c, _ := newCache(t, f)
			for range 2 {
				_, err := c.Authorize(context.Background(), tc.req)
				if !errors.Is(err, tc.err) {
					t.Fatalf("Authorize = %v, want %v", err, tc.err)
				}
			}
			if got := f.questions(); got != 2 {
				t.Errorf("things service asked %d times for 2 questions, want 2 (not cached)", got)
			}
			if got := c.Len(); got != 0 {
				t.Errorf("Len() = %d, want 0", got)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	f := newThings()
	c, clk := newCache(t, f, access.WithMaxEntries(2), access.WithTTL(10*time.Second, 2*time.Second))
	for _, ch := range []string{"a", "b", "c"} {
		ask(t, c, key1, "", ch, publish) // not found: refusals
	}
	if got := c.Len(); got != 2 {
		t.Errorf("Len() = %d after 3 answers, want the maximum 2", got)
	}
	clk.advance(3 * time.Second) // both expired: swept for the next answer
	ask(t, c, key1, "", "d", publish)
	if got := c.Len(); got != 1 {
		t.Errorf("Len() = %d after the expired answers were swept, want 1", got)
	}
}

func TestCacheOptions(t *testing.T) {
	for _, o := range []access.CacheOption{access.WithTTL(0, time.Second), access.WithTTL(time.Second, -1), access.WithMaxEntries(0)} {
		if _, err := access.NewCache(newThings(), o); err == nil {
			t.Errorf("NewCache with a non-positive TTL or size succeeded, want an error")
		}
	}
}

// TestCacheFollow: the events the things service appends reach the cache through Follow.
func TestCacheFollow(t *testing.T) {
	b := bustest.New(t)
	f := newThings()
	f.set(key1, chan1, allowed)
	c, _ := newCache(t, f)
	stop, err := c.Follow(context.Background(), b.JS)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ask(t, c, key1, "", chan1, publish)
	if got := c.Len(); got != 1 {
		t.Fatalf("Len() = %d, want 1", got)
	}
	f.set(key1, chan1, forbidden)
	if err := events.Publish(context.Background(), b.JS, events.ThingsSubject,
		map[string]string{"operation": "thing.disconnect", "chan_id": chan1, "thing_id": thing1}); err != nil {
		t.Fatal(err)
	}
	for c.Len() != 0 { // the test's deadline bounds the wait for the consumer
		time.Sleep(time.Millisecond)
	}
	if got := ask(t, c, key1, "", chan1, publish); got != forbidden {
		t.Errorf("after thing.disconnect on the bus: Authorize = %v, want %v", got, forbidden)
	}
}
