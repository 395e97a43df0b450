// Package httpadapter lets things publish channel messages over HTTP:
//
//	POST /channels/{id}/messages[/{subtopic...}]
//	Authorization: Thing <thing key>
//	Idempotency-Key: <optional; a retry with the same key is stored once>
//	<payload bytes>
//
// The adapter asks the things service whether the key's thing may publish on the channel,
// then publishes one messagingv1.Message through JetStream (with a Nats-Msg-Id derived from
// the Idempotency-Key, if any), so that 202 Accepted means the MESSAGES stream stored it. Statuses: 202 accepted; 400 bad subtopic;
// 401 no or unknown key; 403 thing not connected to the channel; 404 unknown channel; 413
// payload over the limit (256 KiB by default); 503 bus or things service unavailable.
//
// Component asks through an access.Cache that the things events invalidate: a disconnected
// or removed thing is refused once its event reached the adapter (milliseconds), and at the
// latest after access.GrantTTL if an event is lost.
//
// Subtopic path segments become "." separated: /channels/c/messages/room/temp is subtopic
// "room.temp", subject channels.c.messages.room.temp, MQTT topic channels/c/messages/room/temp.
package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/metrics"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/tlsfiles"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Publisher stores a message on the bus (messages.Publisher).
type Publisher interface {
	Publish(ctx context.Context, m *messagingv1.Message, id string) (uint64, error)
}

// Adapter is the HTTP adapter.
type Adapter struct {
	auth       messages.Authorizer
	pub        Publisher
	log        *slog.Logger
	maxPayload int64
	now        func() time.Time
	cacheOpts  []access.CacheOption // for Component's cache
}

// Option configures an Adapter.
type Option func(*Adapter) error

// WithMaxPayload sets the largest accepted payload in bytes (default messages.DefaultMaxPayload).
func WithMaxPayload(n int64) Option {
	return func(a *Adapter) error {
		if n <= 0 {
			return fmt.Errorf("max payload is %d bytes, want a positive size", n)
		}
		a.maxPayload = n
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) error { a.log = l; return nil }
}

// WithAccessCache configures the cache of access answers that Component puts in front of
// the things service (TTLs, size; see access.Cache). New ignores it: its caller passes the
// Authorizer.
func WithAccessCache(opts ...access.CacheOption) Option {
	return func(a *Adapter) error { a.cacheOpts = append(a.cacheOpts, opts...); return nil }
}

// WithClock sets the clock that stamps Message.created (default time.Now); for tests.
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) error { a.now = now; return nil }
}

// New returns an adapter that checks access with auth and publishes with pub.
func New(auth messages.Authorizer, pub Publisher, opts ...Option) (*Adapter, error) {
	a := &Adapter{
		auth:       auth,
		pub:        pub,
		log:        slog.New(slog.DiscardHandler),
		maxPayload: messages.DefaultMaxPayload,
		now:        time.Now,
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, fmt.Errorf("configuring the HTTP adapter: %w", err)
		}
	}
	return a, nil
}

// Register adds the adapter's routes to mux (the standalone server's or the all-in-one's).
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /channels/{id}/messages", a.publish)
	mux.HandleFunc("POST /channels/{id}/messages/{subtopic...}", a.publish)
}

// Handler returns a mux with only the adapter's routes.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Register(mux)
	return mux
}

// credential reads the publisher's credential: the thing key of `Authorization: Thing
// <key>`, and the thing of a verified client certificate (HTTPS with a client CA). With
// both, the key must be the certificate's thing's.
func credential(r *http.Request) (req *thingsv1.AccessRequest, ok bool) {
	req = &thingsv1.AccessRequest{Action: thingsv1.Action_ACTION_PUBLISH}
	cert := tlsfiles.ThingID(r.TLS)
	auth := r.Header.Get("Authorization")
	if auth == "" && cert != "" {
		req.VouchedThingId = cert
		return req, true
	}
	scheme, key, _ := strings.Cut(auth, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Thing") || key == "" {
		return nil, false
	}
	req.Key, req.ThingId = key, cert
	return req, true
}

func (a *Adapter) publish(w http.ResponseWriter, r *http.Request) {
	received := a.now()
	channel := r.PathValue("id")
	protocol := "http"
	if r.TLS != nil {
		protocol = "https"
	}
	req, ok := credential(r)
	if !ok {
		a.refused(metrics.ReasonUnauthenticated)
		service.Error(w, http.StatusUnauthorized, "missing thing key: send `Authorization: Thing <thing key>`, or a client certificate over HTTPS")
		return
	}
	subtopic, err := subtopicOf(r)
	if err != nil {
		a.refused(metrics.ReasonInvalid)
		service.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if !messages.ValidName(channel) {
		a.refused(metrics.ReasonNotFound)
		service.Error(w, http.StatusNotFound, fmt.Sprintf("channel %q not found", channel))
		return
	}
	if r.ContentLength > a.maxPayload {
		a.tooLarge(w)
		return
	}
	req.Channel = channel
	resp, err := a.auth.Authorize(r.Context(), req)
	if err != nil {
		a.refused(metrics.ReasonUnavailable)
		a.log.Error("asking access", "channel", channel, "error", err)
		service.Error(w, http.StatusServiceUnavailable, "cannot check access now: the things service did not answer; retry later")
		return
	}
	if code := messages.HTTPStatus(resp); code != http.StatusOK {
		a.refused(messages.RefusalReason(resp.GetStatus()))
		service.Error(w, code, messages.AccessMessage(resp, channel))
		return
	}
	payload, ok := a.payload(w, r)
	if !ok {
		return
	}
	m := &messagingv1.Message{
		Channel:   channel,
		Subtopic:  subtopic,
		Publisher: resp.GetThingId(),
		Protocol:  "http",
		Payload:   payload,
		Created:   received.UnixNano(),
		Qos:       1, // acknowledged once stored
	}
	var id string // without a key, no id: see messages.NewID
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		id = messages.IdempotentID(resp.GetThingId(), channel, k)
	}
	counters := byProtocol[protocol]
	counters.accepted.Inc()
	if _, err := a.pub.Publish(r.Context(), m, id); err != nil {
		metrics.PublishErrors.WithLabelValues("http").Inc()
		a.refused(metrics.ReasonUnavailable)
		a.log.Error("publishing", "channel", channel, "error", err)
		service.Error(w, http.StatusServiceUnavailable, "cannot store the message now: the bus did not acknowledge it; retry with the same Idempotency-Key")
		return
	}
	counters.stored.Inc()
	storeSeconds.Observe(time.Since(received).Seconds())
	w.WriteHeader(http.StatusAccepted)
}

// subtopicOf returns the request's subtopic, "" when it names none.
func subtopicOf(r *http.Request) (string, error) {
	st := r.PathValue("subtopic")
	if st == "" && !strings.HasSuffix(r.URL.Path, "/messages/") {
		return "", nil
	}
	levels := strings.Split(st, "/")
	if slices.Contains(levels, "") { // legal in MQTT topics; in a URL, a typo
		return "", fmt.Errorf("subtopic %q has an empty level: use /channels/<id>/messages/a/b", st)
	}
	return messages.Subtopic(levels)
}

// payload reads the request body up to the limit; on failure it has answered.
func (a *Adapter) payload(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxPayload))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			a.tooLarge(w)
			return nil, false
		}
		service.Error(w, http.StatusBadRequest, fmt.Sprintf("reading the payload: %v", err))
		return nil, false
	}
	return payload, true
}

// The adapter's counters by protocol, resolved once: publishing is the hot path.
var (
	byProtocol = map[string]struct{ accepted, stored prometheus.Counter }{
		"http":  {metrics.Accepted.WithLabelValues("http", "http"), metrics.Stored.WithLabelValues("http", "http")},
		"https": {metrics.Accepted.WithLabelValues("http", "https"), metrics.Stored.WithLabelValues("http", "https")},
	}
	storeSeconds = metrics.StoreSeconds.WithLabelValues("http")
)

func (a *Adapter) refused(reason string) { metrics.Refused.WithLabelValues("http", reason).Inc() }

func (a *Adapter) tooLarge(w http.ResponseWriter) {
	a.refused(metrics.ReasonTooLarge)
	service.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("payload larger than %d bytes: split it into smaller messages", a.maxPayload))
}
