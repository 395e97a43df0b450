package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/users"
)

// Service is the bootstrap service on one bus.
type Service struct {
	js     jetstream.JetStream
	st     *store
	things *thingsAPI
	sealer *sealer // nil: the secure bootstrap is off
	cost   int
	log    *slog.Logger
	now    func() time.Time
}

// options configure the service.
type options struct {
	thingsURL     string
	encryptionKey []byte
	cost          int
}

// Option configures the service.
type Option func(*options)

// WithThingsURL makes the service call the things service at url (a standalone bootstrap).
// Without it, the things service of the same process answers (the all-in-one).
func WithThingsURL(url string) Option { return func(o *options) { o.thingsURL = url } }

// WithEncryptionKey enables the secure bootstrap with a 32-byte AES-256 key.
func WithEncryptionKey(key []byte) Option { return func(o *options) { o.encryptionKey = key } }

// WithCost sets the bcrypt cost of the external keys' hashes (users.DefaultCost otherwise).
func WithCost(cost int) Option { return func(o *options) { o.cost = cost } }

// NewService opens the bucket on the bus (bus.EnsureStreams made it). rt carries the calls
// to the things service at thingsURL.
func newService(ctx context.Context, js jetstream.JetStream, log *slog.Logger, o options, rt http.RoundTripper) (*Service, error) {
	st, err := openStore(ctx, js)
	if err != nil {
		return nil, err
	}
	s := &Service{js: js, st: st, things: newThingsAPI(o.thingsURL, rt), cost: o.cost, log: log, now: time.Now}
	if s.cost == 0 {
		s.cost = users.DefaultCost
	}
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is out of range: want %d to %d", s.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if o.encryptionKey != nil {
		if s.sealer, err = newSealer(o.encryptionKey); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Component returns the bootstrap service as a process component: its routes on the
// process's HTTP listener and the follower of events.things.
func Component(opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		var o options
		for _, opt := range opts {
			opt(&o)
		}
		local := &muxTransport{}
		var rt http.RoundTripper = http.DefaultTransport
		if o.thingsURL == "" {
			o.thingsURL, rt = "http://in-process", local
		}
		s, err := newService(ctx, d.Bus.JS, d.Log, o, rt)
		if err != nil {
			return service.Component{}, err
		}
		routes := func(mux *http.ServeMux) {
			local.h = mux // the things service's routes are on the same mux
			s.Routes(mux)
		}
		return service.Component{Name: "bootstrap", Routes: routes, Run: s.Follow}, nil
	}
}

// Routes adds the bootstrap API to mux.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /things/configs", s.authed(s.createConfig))
	mux.HandleFunc("GET /things/configs", s.authed(s.listConfigs))
	mux.HandleFunc("GET /things/configs/{id}", s.authed(s.getConfig))
	mux.HandleFunc("PUT /things/configs/{id}", s.authed(s.updateConfig))
	mux.HandleFunc("PUT /things/configs/connections/{id}", s.authed(s.updateConnections))
	mux.HandleFunc("DELETE /things/configs/{id}", s.authed(s.removeConfig))
	mux.HandleFunc("PUT /things/state/{id}", s.authed(s.changeState))
	mux.HandleFunc("GET /things/bootstrap/{external}", s.bootstrap)
	mux.HandleFunc("GET /things/bootstrap/secure/{external}", s.secureBootstrap)
}

// request is an authenticated owner's request: the owner's id and bearer token (passed on
// to the things service).
type request struct {
	owner, token string
}

// authed resolves the bearer token to its user or answers 401.
func (s *Service) authed(h func(w http.ResponseWriter, r *http.Request, req request)) http.HandlerFunc {
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
		h(w, r, request{owner: owner, token: tok})
	}
}

func (s *Service) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	service.Error(w, http.StatusInternalServerError, "internal error: "+err.Error())
}

// thingsError answers with what the things service said when it refused (its 4xx passed on,
// prefixed with what was asked), or 502 when it failed or could not be reached.
func (s *Service) thingsError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if e := (*errThingsAPI)(nil); errors.As(err, &e) && e.status/100 == 4 {
		service.Error(w, e.status, what+": "+e.msg)
		return
	}
	s.log.Error("things service call failed", "method", r.Method, "path", r.URL.Path, "what", what, "err", err)
	service.Error(w, http.StatusBadGateway, what+": "+err.Error())
}

func notFound(w http.ResponseWriter, thingID string) {
	service.Error(w, http.StatusNotFound, fmt.Sprintf("no config for thing %s among yours; list them with GET /things/configs", thingID))
}

// event appends a bootstrap event: operation, the non-empty fields of kv (pairs of name,
// value) and the timestamp in Unix seconds.
func (s *Service) event(ctx context.Context, operation string, kv ...string) error {
	fields := map[string]string{"operation": operation, "timestamp": strconv.FormatInt(s.now().Unix(), 10)}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fields[kv[i]] = kv[i+1]
		}
	}
	return events.Publish(ctx, s.js, events.BootstrapSubject, fields)
}
