package bootstrap

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/service"
)

// deviceView is what a gateway receives at first boot.
type deviceView struct {
	ThingID    string    `json:"thing_id"`
	ThingKey   string    `json:"thing_key"`
	Channels   []Channel `json:"channels"`
	Content    string    `json:"content"`
	ClientCert string    `json:"client_cert,omitempty"`
	ClientKey  string    `json:"client_key,omitempty"`
	CACert     string    `json:"ca_cert,omitempty"`
}

// bootstrap is GET /things/bootstrap/{external} with "Authorization: Thing <external key>".
func (s *Service) bootstrap(w http.ResponseWriter, r *http.Request) {
	key, ok := service.Credential(r, "Thing")
	if !ok {
		unauthorized(w)
		return
	}
	if c, ok := s.identify(w, r, key); ok {
		service.WriteJSON(w, http.StatusOK, deviceOf(c))
	}
}

// secureBootstrap is GET /things/bootstrap/secure/{external} with "Authorization: Thing
// <hex of the sealed external key>": the answer is the same JSON, sealed (see sealer), as
// application/octet-stream.
func (s *Service) secureBootstrap(w http.ResponseWriter, r *http.Request) {
	if s.sealer == nil {
		service.Error(w, http.StatusNotImplemented, "the secure bootstrap is off on this server; its operator enables it with -bootstrap-key (CAIRN_BOOTSTRAP_KEY)")
		return
	}
	cred, ok := service.Credential(r, "Thing")
	sealed, err := hex.DecodeString(cred)
	if !ok || err != nil {
		unauthorized(w)
		return
	}
	external := r.PathValue("external")
	key, err := s.sealer.Open(sealed, external)
	if err != nil {
		s.refuse(w, r, external)
		return
	}
	c, ok := s.identify(w, r, string(key))
	if !ok {
		return
	}
	body, _ := json.Marshal(deviceOf(c))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(s.sealer.Seal(body, external))
}

func deviceOf(c Config) deviceView {
	return deviceView{ThingID: c.ThingID, ThingKey: c.ThingKey, Channels: c.Channels, Content: c.Content,
		ClientCert: c.ClientCert, ClientKey: c.ClientKey, CACert: c.CACert}
}

// identify returns the config of the path's external id if key is its external key, and
// logs the attempt as a thing.bootstrap event; otherwise it answers 404 (unknown id) or 401.
func (s *Service) identify(w http.ResponseWriter, r *http.Request, key string) (Config, bool) {
	ctx := r.Context()
	external := r.PathValue("external")
	var ref externalRef
	_, err := s.st.get(ctx, externalKey(external), &ref)
	var c Config
	if err == nil {
		c, _, err = s.st.config(ctx, ref.Owner, ref.ThingID)
	}
	if errors.Is(err, errNotFound) {
		service.Error(w, http.StatusNotFound, fmt.Sprintf("no config for external id %q; its owner creates one with POST /things/configs", external))
		return Config{}, false
	} else if err != nil {
		s.internal(w, r, err)
		return Config{}, false
	}
	if bcrypt.CompareHashAndPassword([]byte(c.ExternalKeyHash), []byte(key)) != nil {
		s.refuse(w, r, external)
		return Config{}, false
	}
	if err := s.event(ctx, "thing.bootstrap", "external_id", external, "success", "1"); err != nil {
		s.internal(w, r, err)
		return Config{}, false
	}
	return c, true
}

// refuse answers 401 to a wrong external key and logs it as a failed thing.bootstrap.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, external string) {
	if err := s.event(r.Context(), "thing.bootstrap", "external_id", external, "success", "0"); err != nil {
		s.internal(w, r, err)
		return
	}
	unauthorized(w)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Thing realm="cairn-bootstrap"`)
	service.Error(w, http.StatusUnauthorized, "wrong or missing external key; send Authorization: Thing <external key> (the secure variant: the hex of the sealed key)")
}
