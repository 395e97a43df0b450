package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/id"
	"github.com/cairn-iot/cairn/platform/service"
)

// Limits of a config's fields.
const (
	MaxExternalIDBytes  = 256
	MaxExternalKeyBytes = 72 // bcrypt's limit
	MaxNameBytes        = 1024
	MaxChannels         = 100
	// MaxContentBytes bounds the gateway's configuration, and MaxTLSBytes each piece of TLS
	// material (a PEM chain).
	MaxContentBytes = 64 << 10
	MaxTLSBytes     = 16 << 10
	// MaxBodyBytes bounds a config's JSON: the content and TLS material travel in it.
	MaxBodyBytes = 256 << 10
)

// Paging limits of GET /things/configs.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// createBody is the body of POST /things/configs.
type createBody struct {
	ExternalID  string   `json:"external_id"`
	ExternalKey string   `json:"external_key"`
	ThingID     string   `json:"thing_id"`
	Name        string   `json:"name"`
	Channels    []string `json:"channels"`
	Content     string   `json:"content"`
	ClientCert  string   `json:"client_cert"`
	ClientKey   string   `json:"client_key"`
	CACert      string   `json:"ca_cert"`
}

// check returns what is wrong with b, or "".
func (b createBody) check() string {
	switch {
	case b.ExternalID == "" || len(b.ExternalID) > MaxExternalIDBytes:
		return fmt.Sprintf("external_id has %d bytes, want 1 to %d (the gateway's own id, such as its MAC address)", len(b.ExternalID), MaxExternalIDBytes)
	case b.ExternalKey == "" || len(b.ExternalKey) > MaxExternalKeyBytes:
		return fmt.Sprintf("external_key has %d bytes, want 1 to %d (the secret the gateway was flashed with)", len(b.ExternalKey), MaxExternalKeyBytes)
	case b.ThingID != "" && !id.Valid(b.ThingID):
		return fmt.Sprintf("thing_id %q is not a thing id; omit it to create a thing", b.ThingID)
	case len(b.Name) > MaxNameBytes:
		return fmt.Sprintf("name has %d bytes, want at most %d", len(b.Name), MaxNameBytes)
	case len(b.Content) > MaxContentBytes:
		return fmt.Sprintf("content has %d bytes, want at most %d; keep large files elsewhere and name them in the content", len(b.Content), MaxContentBytes)
	}
	for _, f := range []struct{ name, v string }{{"client_cert", b.ClientCert}, {"client_key", b.ClientKey}, {"ca_cert", b.CACert}} {
		if len(f.v) > MaxTLSBytes {
			return fmt.Sprintf("%s has %d bytes, want at most %d", f.name, len(f.v), MaxTLSBytes)
		}
	}
	return checkChannels(b.Channels)
}

// checkChannels returns what is wrong with a list of channel ids, or "".
func checkChannels(ids []string) string {
	if len(ids) > MaxChannels {
		return fmt.Sprintf("channels has %d ids, want at most %d", len(ids), MaxChannels)
	}
	for i, c := range ids {
		if !id.Valid(c) {
			return fmt.Sprintf("channels[%d] = %q is not a channel id", i, c)
		}
		if slices.Index(ids, c) != i {
			return fmt.Sprintf("channels lists %s twice", c)
		}
	}
	return ""
}

// configView is a config as its owner sees it: everything but the external key's hash.
type configView struct {
	ThingID    string    `json:"thing_id"`
	ThingKey   string    `json:"thing_key"`
	ExternalID string    `json:"external_id"`
	Name       string    `json:"name,omitempty"`
	Content    string    `json:"content,omitempty"`
	Channels   []Channel `json:"channels"`
	State      int       `json:"state"`
	ClientCert string    `json:"client_cert,omitempty"`
	ClientKey  string    `json:"client_key,omitempty"`
	CACert     string    `json:"ca_cert,omitempty"`
}

func view(c Config) configView {
	return configView{ThingID: c.ThingID, ThingKey: c.ThingKey, ExternalID: c.ExternalID, Name: c.Name,
		Content: c.Content, Channels: c.Channels, State: c.State, ClientCert: c.ClientCert,
		ClientKey: c.ClientKey, CACert: c.CACert}
}

func (s *Service) createConfig(w http.ResponseWriter, r *http.Request, req request) {
	var b createBody
	if !service.DecodeJSON(w, r, MaxBodyBytes, &b) {
		return
	}
	if msg := b.check(); msg != "" {
		service.Error(w, http.StatusBadRequest, msg)
		return
	}
	ctx := r.Context()
	var ref externalRef
	if _, err := s.st.get(ctx, externalKey(b.ExternalID), &ref); err == nil {
		service.Error(w, http.StatusConflict, fmt.Sprintf("external_id %q already has a config (thing %s); external ids are unique", b.ExternalID, ref.ThingID))
		return
	} else if !errors.Is(err, errNotFound) {
		s.internal(w, r, err)
		return
	}
	channels, ok := s.channels(w, r, req, b.Channels)
	if !ok {
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(b.ExternalKey), s.cost)
	if err != nil {
		s.internal(w, r, fmt.Errorf("hashing the external key: %w", err))
		return
	}
	t, created, ok := s.resolveThing(w, r, req, b)
	if !ok {
		return
	}
	c := Config{ThingID: t.ID, Owner: req.owner, ThingKey: t.Key, ExternalID: b.ExternalID,
		ExternalKeyHash: string(hash), Name: b.Name, Content: b.Content, Channels: channels,
		State: Inactive, ClientCert: b.ClientCert, ClientKey: b.ClientKey, CACert: b.CACert}
	if !s.store(w, r, req, c) {
		if created { // a thing made for this config only goes with it
			if err := s.things.removeThing(ctx, req.token, t.ID); err != nil {
				s.log.Error("removing the thing of a refused config", "thing_id", t.ID, "err", err)
			}
		}
		return
	}
	if err := s.event(ctx, "config.create", "thing_id", c.ThingID, "owner", c.Owner, "name", c.Name,
		"channels", strings.Join(c.channelIDs(), ","), "external_id", c.ExternalID, "content", c.Content); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", "/things/configs/"+c.ThingID)
	service.WriteJSON(w, http.StatusCreated, view(c))
}

// resolveThing reads the body's thing (its key) or creates one named like the config; created
// says which. It answers and returns ok false on failure.
func (s *Service) resolveThing(w http.ResponseWriter, r *http.Request, req request, b createBody) (t thing, created, ok bool) {
	var err error
	if b.ThingID != "" {
		t, err = s.things.thing(r.Context(), req.token, b.ThingID)
	} else {
		t, err = s.things.createThing(r.Context(), req.token, b.Name)
		created = err == nil
	}
	if err != nil {
		s.thingsError(w, r, "thing "+b.ThingID, err)
		return thing{}, false, false
	}
	return t, created, true
}

// store writes c's external id index, then c; it answers 409 when either exists (the index
// is then left as it was).
func (s *Service) store(w http.ResponseWriter, r *http.Request, req request, c Config) bool {
	ctx := r.Context()
	ref, _ := json.Marshal(externalRef{Owner: req.owner, ThingID: c.ThingID})
	if _, err := s.st.kv.Create(ctx, externalKey(c.ExternalID), ref); errors.Is(err, jetstream.ErrKeyExists) {
		service.Error(w, http.StatusConflict, fmt.Sprintf("external_id %q already has a config; external ids are unique", c.ExternalID))
		return false
	} else if err != nil {
		s.internal(w, r, fmt.Errorf("storing the external id index: %w", err))
		return false
	}
	b, _ := json.Marshal(c)
	_, err := s.st.kv.Create(ctx, configKey(c.Owner, c.ThingID), b)
	if err == nil {
		return true
	}
	if derr := s.st.kv.Delete(ctx, externalKey(c.ExternalID)); derr != nil {
		err = errors.Join(err, derr)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		service.Error(w, http.StatusConflict, fmt.Sprintf("thing %s already has a config; change it with PUT /things/configs/%s", c.ThingID, c.ThingID))
	} else {
		s.internal(w, r, fmt.Errorf("storing the config: %w", err))
	}
	return false
}

// channels reads the owner's channels ids from the things service, or answers and returns
// false.
func (s *Service) channels(w http.ResponseWriter, r *http.Request, req request, ids []string) ([]Channel, bool) {
	chs := make([]Channel, 0, len(ids))
	for _, cid := range ids {
		c, err := s.things.channel(r.Context(), req.token, cid)
		if err != nil {
			s.thingsError(w, r, "channel "+cid, err)
			return nil, false
		}
		chs = append(chs, c)
	}
	return chs, true
}

// configOf reads the config of the path's thing, or answers and returns false.
func (s *Service) configOf(w http.ResponseWriter, r *http.Request, req request) (Config, uint64, bool) {
	tid := r.PathValue("id")
	if !id.Valid(tid) {
		notFound(w, tid)
		return Config{}, 0, false
	}
	c, rev, err := s.st.config(r.Context(), req.owner, tid)
	if errors.Is(err, errNotFound) {
		notFound(w, tid)
		return Config{}, 0, false
	} else if err != nil {
		s.internal(w, r, err)
		return Config{}, 0, false
	}
	return c, rev, true
}

func (s *Service) getConfig(w http.ResponseWriter, r *http.Request, req request) {
	if c, _, ok := s.configOf(w, r, req); ok {
		service.WriteJSON(w, http.StatusOK, view(c))
	}
}

func (s *Service) listConfigs(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	offset, ok1 := queryInt(w, q.Get("offset"), "offset", 0, 0, math.MaxInt32)
	limit, ok2 := queryInt(w, q.Get("limit"), "limit", DefaultLimit, 1, MaxLimit)
	state, ok3 := queryInt(w, q.Get("state"), "state", -1, Inactive, Active)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	all, err := s.st.all(r.Context(), "config."+req.owner+".*")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	name := strings.ToLower(q.Get("name"))
	var match []configView
	for _, c := range all {
		if (state < 0 || c.State == state) && strings.Contains(strings.ToLower(c.Name), name) {
			match = append(match, view(c))
		}
	}
	page := []configView{}
	if offset < len(match) {
		page = match[offset:min(len(match), offset+limit)]
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"total": len(match), "offset": offset, "limit": limit, "configs": page})
}

// queryInt parses a query parameter from lo to hi (def when empty), or answers 400.
func queryInt(w http.ResponseWriter, s, name string, def, lo, hi int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		service.Error(w, http.StatusBadRequest, fmt.Sprintf("%s=%q is not a number from %d to %d", name, s, lo, hi))
		return 0, false
	}
	return n, true
}

func (s *Service) updateConfig(w http.ResponseWriter, r *http.Request, req request) {
	var b struct {
		Name    string `json:"name"`
		Content string `json:"content"`
	}
	if !service.DecodeJSON(w, r, MaxBodyBytes, &b) {
		return
	}
	if len(b.Name) > MaxNameBytes || len(b.Content) > MaxContentBytes {
		service.Error(w, http.StatusBadRequest, fmt.Sprintf("name has %d bytes and content %d, want at most %d and %d", len(b.Name), len(b.Content), MaxNameBytes, MaxContentBytes))
		return
	}
	c, rev, ok := s.configOf(w, r, req)
	if !ok {
		return
	}
	c.Name, c.Content = b.Name, b.Content
	if !s.save(w, r, c, rev) {
		return
	}
	if err := s.event(r.Context(), "config.update", "thing_id", c.ThingID, "name", c.Name, "content", c.Content); err != nil {
		s.internal(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, view(c))
}

// save writes c if it is still at rev, or answers 409 (or 500) and returns false.
func (s *Service) save(w http.ResponseWriter, r *http.Request, c Config, rev uint64) bool {
	err := s.st.update(r.Context(), c, rev)
	if errors.Is(err, jetstream.ErrKeyExists) {
		service.Error(w, http.StatusConflict, fmt.Sprintf("the config of thing %s changed while this request ran; read it again and retry", c.ThingID))
		return false
	} else if err != nil {
		s.internal(w, r, fmt.Errorf("updating the config: %w", err))
		return false
	}
	return true
}

func (s *Service) removeConfig(w http.ResponseWriter, r *http.Request, req request) {
	c, _, ok := s.configOf(w, r, req)
	if !ok {
		return
	}
	if err := s.st.remove(r.Context(), c); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.event(r.Context(), "config.remove", "thing_id", c.ThingID); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
