package bootstrap

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-iot/cairn/platform/service"
)

// changeState is PUT /things/state/{id} {"state": 0 or 1}: 1 connects the thing to its
// config's channels through the things service, 0 disconnects it, so that a thing publishes
// only while active. The connections change first; a failure half-way leaves the state as
// it was, and the same request again completes it.
func (s *Service) changeState(w http.ResponseWriter, r *http.Request, req request) {
	var b struct {
		State *int `json:"state"`
	}
	if !service.DecodeJSON(w, r, service.MaxBodyBytes, &b) {
		return
	}
	if b.State == nil || (*b.State != Active && *b.State != Inactive) {
		service.Error(w, http.StatusBadRequest, `state is missing or not 0 or 1; send {"state":1} to activate the thing, {"state":0} to deactivate it`)
		return
	}
	c, rev, ok := s.configOf(w, r, req)
	if !ok {
		return
	}
	if c.State == *b.State {
		service.WriteJSON(w, http.StatusOK, view(c)) // nothing changes, no event
		return
	}
	connect := *b.State == Active
	if !s.setConnections(w, r, req, c.ThingID, c.channelIDs(), connect) {
		return
	}
	c.State = *b.State
	if !s.save(w, r, c, rev) {
		return
	}
	if err := s.event(r.Context(), "thing.state_change", "thing_id", c.ThingID, "state", strconv.Itoa(c.State)); err != nil {
		s.internal(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, view(c))
}

// updateConnections is PUT /things/configs/connections/{id} {"channels": [ids]}: the
// config's channels are replaced; an active thing is connected to the new ones and
// disconnected from those that went.
func (s *Service) updateConnections(w http.ResponseWriter, r *http.Request, req request) {
	var b struct {
		Channels []string `json:"channels"`
	}
	if !service.DecodeJSON(w, r, service.MaxBodyBytes, &b) {
		return
	}
	if msg := checkChannels(b.Channels); msg != "" {
		service.Error(w, http.StatusBadRequest, msg)
		return
	}
	c, rev, ok := s.configOf(w, r, req)
	if !ok {
		return
	}
	channels, ok := s.channels(w, r, req, b.Channels)
	if !ok {
		return
	}
	if c.State == Active {
		old := c.channelIDs()
		gone := slices.DeleteFunc(slices.Clone(old), func(id string) bool { return slices.Contains(b.Channels, id) })
		added := slices.DeleteFunc(slices.Clone(b.Channels), func(id string) bool { return slices.Contains(old, id) })
		if !s.setConnections(w, r, req, c.ThingID, added, true) || !s.setConnections(w, r, req, c.ThingID, gone, false) {
			return
		}
	}
	c.Channels = channels
	if !s.save(w, r, c, rev) {
		return
	}
	if err := s.event(r.Context(), "thing.update_connections", "thing_id", c.ThingID, "channels", strings.Join(b.Channels, ",")); err != nil {
		s.internal(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, view(c))
}

// setConnections connects (or disconnects) thingID to every channel, or answers and
// returns false.
func (s *Service) setConnections(w http.ResponseWriter, r *http.Request, req request, thingID string, channels []string, connect bool) bool {
	for _, ch := range channels {
		var err error
		if connect {
			err = s.things.connect(r.Context(), req.token, ch, thingID)
		} else {
			err = s.things.disconnect(r.Context(), req.token, ch, thingID)
		}
		if err != nil {
			s.thingsError(w, r, fmt.Sprintf("connecting thing %s and channel %s", thingID, ch), err)
			return false
		}
	}
	return true
}
