// Package users is Cairn's accounts service: users with an email and a password, and the
// bearer tokens they log in for.
//
//	POST /users   {"email","password"} -> 201 {"id","email"}, Location: /users/<id>
//	POST /tokens  {"email","password"} -> 201 {"token"}
//	GET  /users/me  (Authorization: Bearer <token>) -> 200 {"id","email"}
//
// Refusals: malformed JSON or an invalid email or password 400, a body over 64 KiB 413, an
// email already registered 409, wrong email or password 401 (the same answer for both, and
// the same work: an unknown email still costs a bcrypt comparison).
//
// Storage (bucket cairn_users, key: hex of the lower-cased email): {"id","email",
// "password_hash","created"}. Passwords are hashed with bcrypt (cost 12 by default), so they
// are limited to 72 bytes; at least 8 are required.
//
// Tokens are random opaque strings (32 random bytes, base64url). The bucket cairn_tokens maps
// the hex SHA-256 of a token (never the token itself) to {"user_id","email","expires"}; the
// bucket's TTL drops it after bus.TokenTTL and Identify also checks "expires". Any service on
// the same NATS verifies a token with Identify, as the things service does.
package users

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/id"
	"github.com/cairn-iot/cairn/platform/service"
)

// DefaultCost is the bcrypt cost of new password hashes.
const DefaultCost = 12

// User is an account as stored.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
}

// token is a token's record in cairn_tokens.
type token struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email"`
	Expires int64  `json:"expires"` // Unix seconds
}

// ErrUnauthenticated is returned by Identify for an unknown, expired or empty token.
var ErrUnauthenticated = errors.New("unknown or expired token")

// Identify returns the id of the user that holds tok, or ErrUnauthenticated.
func Identify(ctx context.Context, js jetstream.JetStream, tok string) (userID string, err error) {
	if tok == "" {
		return "", ErrUnauthenticated
	}
	kv, err := js.KeyValue(ctx, bus.TokensBucket)
	if err != nil {
		return "", fmt.Errorf("opening the tokens bucket: %w", err)
	}
	e, err := kv.Get(ctx, hashHex(tok))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", ErrUnauthenticated
	}
	if err != nil {
		return "", fmt.Errorf("reading a token: %w", err)
	}
	var rec token
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return "", fmt.Errorf("decoding a token record: %w", err)
	}
	if time.Now().Unix() >= rec.Expires {
		return "", ErrUnauthenticated
	}
	return rec.UserID, nil
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Service is the users service on one bus.
type Service struct {
	users, tokens jetstream.KeyValue
	cost          int
	dummyHash     []byte
}

// Option configures a Service.
type Option func(*Service) error

// WithCost sets the bcrypt cost (tests use bcrypt.MinCost).
func WithCost(cost int) Option {
	return func(s *Service) error {
		if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
			return fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
		}
		s.cost = cost
		return nil
	}
}

// NewService opens the users service's buckets on js (bus.EnsureStreams made them).
func NewService(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Service, error) {
	s := &Service{cost: DefaultCost}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	var err error
	if s.users, err = js.KeyValue(ctx, bus.UsersBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", bus.UsersBucket, err)
	}
	if s.tokens, err = js.KeyValue(ctx, bus.TokensBucket); err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", bus.TokensBucket, err)
	}
	if s.dummyHash, err = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), s.cost); err != nil {
		return nil, fmt.Errorf("hashing: %w", err)
	}
	return s, nil
}

// Component returns the users service as a process component: its routes on the process's
// HTTP listener, its buckets on the process's bus.
func Component(opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		s, err := NewService(ctx, d.Bus.JS, opts...)
		if err != nil {
			return service.Component{}, err
		}
		return service.Component{Name: "users", Routes: s.Routes}, nil
	}
}

// Routes adds the users API to mux.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /users", s.register)
	mux.HandleFunc("POST /tokens", s.login)
	mux.HandleFunc("GET /users/me", s.me)
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// userView is a user as the API shows it.
type userView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func emailKey(email string) string { return hex.EncodeToString([]byte(strings.ToLower(email))) }

func checkCredentials(c credentials) string {
	a, err := mail.ParseAddress(c.Email)
	if err != nil || a.Address != c.Email || a.Name != "" || len(c.Email) > 254 {
		return fmt.Sprintf("email %q is not a plain address like user@example.com", c.Email)
	}
	if len(c.Password) < 8 || len(c.Password) > 72 {
		return fmt.Sprintf("password has %d bytes, want 8 to 72", len(c.Password))
	}
	return ""
}

func (s *Service) register(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if !service.DecodeJSON(w, r, service.MaxBodyBytes, &c) {
		return
	}
	if msg := checkCredentials(c); msg != "" {
		service.Error(w, http.StatusBadRequest, msg)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), s.cost)
	if err != nil {
		service.Error(w, http.StatusInternalServerError, "hashing the password failed")
		return
	}
	u := User{ID: id.New(), Email: c.Email, PasswordHash: string(hash), Created: time.Now().UTC()}
	b, err := json.Marshal(u)
	if err != nil {
		service.Error(w, http.StatusInternalServerError, "encoding the user failed")
		return
	}
	if _, err := s.users.Create(r.Context(), emailKey(c.Email), b); errors.Is(err, jetstream.ErrKeyExists) {
		service.Error(w, http.StatusConflict, fmt.Sprintf("email %s is already registered; log in with POST /tokens", c.Email))
		return
	} else if err != nil {
		service.Error(w, http.StatusInternalServerError, "storing the user failed: "+err.Error())
		return
	}
	w.Header().Set("Location", "/users/"+u.ID)
	service.WriteJSON(w, http.StatusCreated, userView{ID: u.ID, Email: u.Email})
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if !service.DecodeJSON(w, r, service.MaxBodyBytes, &c) {
		return
	}
	u, found, err := s.lookup(r.Context(), c.Email)
	if err != nil {
		service.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	hash := s.dummyHash
	if found {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(c.Password)) != nil || !found {
		service.Error(w, http.StatusUnauthorized, "wrong email or password")
		return
	}
	tok := id.Token()
	rec, err := json.Marshal(token{UserID: u.ID, Email: u.Email, Expires: time.Now().Add(bus.TokenTTL).Unix()})
	if err != nil {
		service.Error(w, http.StatusInternalServerError, "encoding the token failed")
		return
	}
	if _, err := s.tokens.Put(r.Context(), hashHex(tok), rec); err != nil {
		service.Error(w, http.StatusInternalServerError, "storing the token failed: "+err.Error())
		return
	}
	service.WriteJSON(w, http.StatusCreated, map[string]string{"token": tok})
}

func (s *Service) lookup(ctx context.Context, email string) (User, bool, error) {
	if email == "" {
		return User{}, false, nil
	}
	e, err := s.users.Get(ctx, emailKey(email))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("reading the user: %w", err)
	}
	var u User
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return User{}, false, fmt.Errorf("decoding the user: %w", err)
	}
	return u, true, nil
}

func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	tok, _ := service.Credential(r, "Bearer")
	kv := s.tokens
	if tok == "" {
		unauthorized(w)
		return
	}
	e, err := kv.Get(r.Context(), hashHex(tok))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		unauthorized(w)
		return
	} else if err != nil {
		service.Error(w, http.StatusInternalServerError, "reading the token failed: "+err.Error())
		return
	}
	var rec token
	if err := json.Unmarshal(e.Value(), &rec); err != nil || time.Now().Unix() >= rec.Expires {
		unauthorized(w)
		return
	}
	service.WriteJSON(w, http.StatusOK, userView{ID: rec.UserID, Email: rec.Email})
}

// unauthorized answers 401 for a missing or bad bearer token.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
	service.Error(w, http.StatusUnauthorized, "missing, unknown or expired token; send Authorization: Bearer <token> from POST /tokens")
}
