// Package things is Cairn's things service: things (devices and applications, each with a
// secret key) and channels, owned by users, the connections between them, and the answer to
// the adapters' question "may this key publish, subscribe or read on this channel".
//
// HTTP API, every request with "Authorization: Bearer <token>" (from POST /tokens):
//
//	POST   /things                      {"name","metadata"} -> 201 thing, Location: /things/<id>
//	GET    /things?offset=0&limit=10    -> 200 {"total","offset","limit","things":[...]}
//	GET    /things/<id>                 -> 200 {"id","name","key","metadata"}
//	PUT    /things/<id>                 {"name","metadata"} -> 200 thing (both replaced)
//	DELETE /things/<id>                 -> 204 (its connections go with it)
//	GET    /things/<id>/channels        -> 200 page of the channels it is connected to
//	POST, GET, PUT, DELETE /channels... the same for channels (no key)
//	GET    /channels/<id>/things        -> 200 page of the things connected to it
//	PUT    /channels/<chan>/things/<thing>  -> 200 connected (again: 200, no new event)
//	DELETE /channels/<chan>/things/<thing>  -> 204 disconnected; 404 if it was not connected
//
// Refusals: missing or invalid token 401; another user's or an unknown id 404 (a user
// cannot tell the two apart); malformed JSON, unknown fields, metadata that is not an
// object, a name over 1024 bytes or bad paging 400; a body over 64 KiB 413. A refused
// request changes nothing. Lists are sorted by id, which is creation order (UUIDv7); limit
// is 1 to 100 (default 10).
//
// Every change appends an event to "events.things" (package events): thing.create {id,
// owner, name, metadata}, thing.update {id, name, metadata}, thing.remove {id},
// channel.create/update/remove likewise, thing.connect and thing.disconnect {chan_id,
// thing_id}; name and metadata (a JSON string) only when not empty.
//
// Access: the service answers thingsv1.AccessRequest on bus.AccessSubject in the queue group
// "things" (see access.go), so several instances can run side by side. State lives only in
// the JetStream key-value buckets of package bus, never in memory.
package things

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/users"
)

// MaxNameBytes limits names of things and channels.
const MaxNameBytes = 1024

// Paging limits.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Service is the things service on one bus.
type Service struct {
	js  jetstream.JetStream
	nc  *nats.Conn
	st  *store
	log *slog.Logger
}

// NewService opens the buckets on the bus (bus.EnsureStreams made them).
func NewService(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger) (*Service, error) {
	st, err := openStore(ctx, js)
	if err != nil {
		return nil, err
	}
	return &Service{js: js, nc: nc, st: st, log: log}, nil
}

// Component returns the things service as a process component: its routes on the
// process's HTTP listener and the access responder on its bus.
func Component() service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		s, err := NewService(ctx, d.Bus.Conn, d.Bus.JS, d.Log)
		if err != nil {
			return service.Component{}, err
		}
		return service.Component{Name: "things", Routes: s.Routes, Run: s.ServeAccess}, nil
	}
}

// Routes adds the things API to mux.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /things", s.authed(s.createThing))
	mux.HandleFunc("GET /things", s.authed(s.listThings))
	mux.HandleFunc("GET /things/{id}", s.authed(s.getThing))
	mux.HandleFunc("PUT /things/{id}", s.authed(s.updateThing))
	mux.HandleFunc("DELETE /things/{id}", s.authed(s.removeThing))
	// "{list}", not "channels": a literal last segment would conflict in the all-in-one's mux
	// with the bootstrap service's GET /things/configs/{id} and /things/bootstrap/{id}, which
	// are more specific than this pattern.
	mux.HandleFunc("GET /things/{id}/{list}", s.authed(s.thingChannels))
	mux.HandleFunc("POST /channels", s.authed(s.createChannel))
	mux.HandleFunc("GET /channels", s.authed(s.listChannels))
	mux.HandleFunc("GET /channels/{id}", s.authed(s.getChannel))
	mux.HandleFunc("PUT /channels/{id}", s.authed(s.updateChannel))
	mux.HandleFunc("DELETE /channels/{id}", s.authed(s.removeChannel))
	mux.HandleFunc("GET /channels/{id}/things", s.authed(s.channelThings))
	mux.HandleFunc("PUT /channels/{chan}/things/{thing}", s.authed(s.connect))
	mux.HandleFunc("DELETE /channels/{chan}/things/{thing}", s.authed(s.disconnect))
}

// authed resolves the bearer token to its user (the owner of everything the request touches)
// or answers 401.
func (s *Service) authed(h func(w http.ResponseWriter, r *http.Request, owner string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := service.Credential(r, "Bearer")
		owner, err := users.Identify(r.Context(), s.js, tok)
		if errors.Is(err, users.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
			service.Error(w, http.StatusUnauthorized, "missing, unknown or expired token; send Authorization: Bearer <token> from POST /tokens")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		h(w, r, owner)
	}
}

func (s *Service) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	service.Error(w, http.StatusInternalServerError, "internal error: "+err.Error())
}

func notFound(w http.ResponseWriter, what, id string) {
	service.Error(w, http.StatusNotFound, fmt.Sprintf("%s %s not found among yours; list them with GET /%ss", what, id, what))
}

// entityBody is the body of POST and PUT on things and channels.
type entityBody struct {
	Name     string          `json:"name"`
	Metadata json.RawMessage `json:"metadata"`
}

// decodeEntity reads and checks a POST/PUT body, or answers 400/413 and returns false.
func decodeEntity(w http.ResponseWriter, r *http.Request) (name string, md map[string]any, ok bool) {
	var b entityBody
	if !service.DecodeJSON(w, r, service.MaxBodyBytes, &b) {
		return "", nil, false
	}
	if len(b.Name) > MaxNameBytes {
		service.Error(w, http.StatusBadRequest, fmt.Sprintf("name has %d bytes, want at most %d", len(b.Name), MaxNameBytes))
		return "", nil, false
	}
	if len(b.Metadata) > 0 && string(b.Metadata) != "null" {
		if err := json.Unmarshal(b.Metadata, &md); err != nil || md == nil {
			service.Error(w, http.StatusBadRequest, fmt.Sprintf("metadata is %.40s, want a JSON object like {\"type\":\"sensor\"}", b.Metadata))
			return "", nil, false
		}
	}
	return b.Name, md, true
}

// page is the paging of a list request.
type page struct{ offset, limit int }

func parsePage(w http.ResponseWriter, r *http.Request) (page, bool) {
	p := page{0, DefaultLimit}
	q := r.URL.Query()
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{{"offset", &p.offset, 0, math.MaxInt32}, {"limit", &p.limit, 1, MaxLimit}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || n > f.max {
			service.Error(w, http.StatusBadRequest, fmt.Sprintf("%s=%q is not a number from %d to %d", f.name, s, f.min, f.max))
			return page{}, false
		}
		*f.v = n
	}
	return p, true
}

// window returns the part of ids the page shows.
func (p page) window(ids []string) []string {
	if p.offset >= len(ids) {
		return nil
	}
	return ids[p.offset:min(len(ids), p.offset+p.limit)]
}

// metadataString is metadata as an event field: JSON with sorted keys, "" when empty.
func metadataString(md map[string]any) string {
	if len(md) == 0 {
		return ""
	}
	b, _ := json.Marshal(md) // decoded from JSON: always encodable
	return string(b)
}

// event appends a things event with the non-empty fields of kv (pairs of name, value).
func (s *Service) event(ctx context.Context, operation string, kv ...string) error {
	fields := map[string]string{"operation": operation}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fields[kv[i]] = kv[i+1]
		}
	}
	return events.Publish(ctx, s.js, events.ThingsSubject, fields)
}

// thingView is a thing as the API shows it.
type thingView struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Key      string         `json:"key"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

func viewThing(t Thing) thingView {
	return thingView{ID: t.ID, Name: t.Name, Key: t.Key, Metadata: t.Metadata}
}

// channelView is a channel as the API shows it.
type channelView struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

func viewChannel(c Channel) channelView {
	return channelView{ID: c.ID, Name: c.Name, Metadata: c.Metadata}
}
