package access

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/metrics"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Authorizer answers access questions: may the holder of a credential act on a channel.
type Authorizer interface {
	Authorize(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error)
}

// Defaults of a Cache.
const (
	// GrantTTL bounds how long a grant (STATUS_ALLOWED) is reused without asking again.
	GrantTTL = 10 * time.Second
	// RefusalTTL bounds how long a refusal (unauthenticated, forbidden, not found) is reused.
	RefusalTTL = 2 * time.Second
	// MaxEntries bounds the answers a Cache holds; when it is full, expired answers are swept
	// and, if it is still full, new answers are not kept (each such question is asked).
	MaxEntries = 1 << 16
)

// Cache answers the thing-key questions of the adapters (every publish and subscribe) from
// memory, asking next only for a question it has no fresh answer to. Questions with a user
// token are always asked: no event announces a token's end.
//
// # Staleness bound
//
// A cached answer is dropped when the things event that can change it is applied to the
// cache (Apply): thing.remove (every answer about the thing), thing.connect and
// thing.disconnect (the thing's answers on the channel), channel.create and channel.remove
// (every answer on the channel), thing.create (every "unauthenticated" answer); an
// operation the cache does not know drops everything, so a future event (say, a key
// rotation) errs on the side of asking. thing.update and channel.update change no access.
// An answer that was being asked while any event was applied is returned but not kept,
// since it may predate the event. So, after the things service has appended an event (it
// answers the change's HTTP request only then), the adapters refuse within the time their
// event consumer takes to deliver it: milliseconds on one host. The publish or subscribe in
// flight at that instant may still pass, as it could without a cache.
//
// If an event is lost (a consumer error: the cache then drops everything too) or never
// comes (a things service that changed the store and crashed before appending the event),
// an answer lives at most its TTL: GrantTTL (10 s) for a grant, RefusalTTL (2 s) for a
// refusal. Errors (no answer) are never cached.
type Cache struct {
	next                 Authorizer
	grantTTL, refusalTTL time.Duration
	max                  int
	now                  func() time.Time

	mu      sync.Mutex
	gen     uint64 // bumped by every invalidation
	entries map[cacheKey]cacheEntry
}

var (
	cacheHits   = metrics.AccessCache.WithLabelValues("hit")
	cacheMisses = metrics.AccessCache.WithLabelValues("miss")
)

type cacheKey struct {
	key, cert, thingID, channel string
	action                      thingsv1.Action
}

type cacheEntry struct {
	status  thingsv1.AccessResponse_Status
	thingID string // of the answer (the key's thing), or of the question
	expires time.Time
}

// CacheOption configures a Cache.
type CacheOption func(*Cache) error

// WithTTL sets how long grants and refusals are reused (defaults GrantTTL, RefusalTTL).
func WithTTL(grant, refusal time.Duration) CacheOption {
	return func(c *Cache) error {
		if grant <= 0 || refusal <= 0 {
			return fmt.Errorf("cache TTLs are %v for grants and %v for refusals, want both positive", grant, refusal)
		}
		c.grantTTL, c.refusalTTL = grant, refusal
		return nil
	}
}

// WithMaxEntries sets how many answers the cache holds at most (default MaxEntries).
func WithMaxEntries(n int) CacheOption {
	return func(c *Cache) error {
		if n <= 0 {
			return fmt.Errorf("cache size is %d answers, want a positive number", n)
		}
		c.max = n
		return nil
	}
}

// WithCacheClock sets the clock that expires answers (default time.Now); for tests.
func WithCacheClock(now func() time.Time) CacheOption {
	return func(c *Cache) error { c.now = now; return nil }
}

// NewCache returns a cache in front of next. Its owner must feed it the things events, with
// Follow or by calling Apply from its own consumer of events.ThingsSubject, from before the
// first question on: a cache nobody feeds is stale up to its TTLs.
func NewCache(next Authorizer, opts ...CacheOption) (*Cache, error) {
	c := &Cache{next: next, grantTTL: GrantTTL, refusalTTL: RefusalTTL, max: MaxEntries, now: time.Now,
		entries: map[cacheKey]cacheEntry{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("configuring the access cache: %w", err)
		}
	}
	return c, nil
}

// cacheable reports whether an answer may be kept: the answers that depend only on the
// stored things, channels and connections, which the things events announce.
func cacheable(st thingsv1.AccessResponse_Status) bool {
	switch st {
	case thingsv1.AccessResponse_STATUS_ALLOWED, thingsv1.AccessResponse_STATUS_FORBIDDEN,
		thingsv1.AccessResponse_STATUS_NOT_FOUND, thingsv1.AccessResponse_STATUS_UNAUTHENTICATED:
		return true
	}
	return false
}

// Authorize answers req from the cache, or asks next and keeps the answer. Each call returns
// a response of its own.
func (c *Cache) Authorize(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	if req.GetToken() != "" || req.GetKey() == "" && req.GetVouchedThingId() == "" {
		return c.next.Authorize(ctx, req)
	}
	k := cacheKey{key: req.GetKey(), cert: req.GetVouchedThingId(), thingID: req.GetThingId(), channel: req.GetChannel(), action: req.GetAction()}
	c.mu.Lock()
	e, ok := c.entries[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		cacheHits.Inc()
		return &thingsv1.AccessResponse{Status: e.status, ThingId: e.thingID}, nil
	}
	cacheMisses.Inc()
	resp, err := c.next.Authorize(ctx, req)
	if err != nil || !cacheable(resp.GetStatus()) {
		return resp, err
	}
	ttl := c.refusalTTL
	if resp.GetStatus() == thingsv1.AccessResponse_STATUS_ALLOWED {
		ttl = c.grantTTL
	}
	e = cacheEntry{status: resp.GetStatus(), thingID: resp.GetThingId(), expires: c.now().Add(ttl)}
	if e.thingID == "" {
		e.thingID = req.GetThingId()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return resp, nil // an event was applied meanwhile: the answer may predate it
	}
	if len(c.entries) >= c.max {
		c.sweepLocked()
		if len(c.entries) >= c.max {
			return resp, nil
		}
	}
	c.entries[k] = e
	return resp, nil
}

func (c *Cache) sweepLocked() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}

// Len returns the number of answers held (expired ones included until they are swept).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Apply drops the answers a things event (its fields, as package events writes them) can
// have changed; see the Cache documentation.
func (c *Cache) Apply(ev map[string]string) {
	var drop func(k cacheKey, e cacheEntry) bool
	switch ev["operation"] {
	case "thing.update", "channel.update":
		return // names and metadata: no access changes
	case "thing.remove":
		id := ev["id"]
		drop = func(k cacheKey, e cacheEntry) bool { return e.thingID == id || k.thingID == id }
	case "thing.connect", "thing.disconnect":
		tid, cid := ev["thing_id"], ev["chan_id"]
		drop = func(k cacheKey, e cacheEntry) bool {
			return k.channel == cid && (e.thingID == tid || k.thingID == tid)
		}
	case "channel.create", "channel.remove":
		id := ev["id"]
		drop = func(k cacheKey, e cacheEntry) bool { return k.channel == id }
	case "thing.create":
		drop = func(k cacheKey, e cacheEntry) bool {
			return e.status == thingsv1.AccessResponse_STATUS_UNAUTHENTICATED
		}
	default:
		c.Flush()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.entries {
		if drop(k, e) {
			delete(c.entries, k)
		}
	}
}

// Flush drops every answer.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// Follow applies the things events appended from now on to c, through an ordered consumer
// of the EVENTS stream, until the returned stop is called. A consumer error (missed
// heartbeats, a reset) flushes the cache, since events may have been missed.
func (c *Cache) Follow(ctx context.Context, js jetstream.JetStream) (stop func(), err error) {
	cons, err := events.FollowThings(ctx, js, nil)
	if err != nil {
		return nil, fmt.Errorf("the access cache: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { c.ApplyJSON(msg.Data()) },
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) { c.Flush() }))
	if err != nil {
		return nil, fmt.Errorf("following %s for the access cache: %w", events.ThingsSubject, err)
	}
	return cc.Stop, nil
}

// ApplyJSON applies one event as stored in the EVENTS stream (a JSON object of strings);
// an event it cannot decode flushes the cache.
func (c *Cache) ApplyJSON(data []byte) {
	var ev map[string]string
	if err := json.Unmarshal(data, &ev); err != nil {
		c.Flush()
		return
	}
	c.Apply(ev)
}
