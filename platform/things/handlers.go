package things

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/id"
	"github.com/cairn-iot/cairn/platform/service"
)

// keyHash is a thing key's name in the key index: its hex SHA-256, never the key itself.
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// pathID returns the path value name if it has the form of an id; otherwise it answers 404.
func pathID(w http.ResponseWriter, r *http.Request, name, what string) (string, bool) {
	v := r.PathValue(name)
	if !id.Valid(v) {
		notFound(w, what, v)
		return "", false
	}
	return v, true
}

func conflict(w http.ResponseWriter, what, id string) {
	service.Error(w, http.StatusConflict, fmt.Sprintf("%s %s changed while this request ran; read it again and retry", what, id))
}

func (s *Service) createThing(w http.ResponseWriter, r *http.Request, owner string) {
	name, md, ok := decodeEntity(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	t := Thing{ID: id.New(), Owner: owner, Name: name, Key: id.Key(), Metadata: md}
	ref, _ := json.Marshal(keyRef{Owner: owner, ID: t.ID})
	// The key index first: until the thing itself is stored, a key that reaches it is
	// refused by access (it checks the thing too), so a failure in between grants nothing.
	if _, err := s.st.keys.Create(ctx, keyHash(t.Key), ref); err != nil {
		s.internal(w, r, fmt.Errorf("storing the key index: %w", err))
		return
	}
	b, _ := json.Marshal(t)
	if _, err := s.st.things.Create(ctx, ownedKey(owner, t.ID), b); err != nil {
		s.internal(w, r, fmt.Errorf("storing the thing: %w", err))
		return
	}
	if err := s.event(ctx, "thing.create", "id", t.ID, "owner", owner, "name", t.Name, "metadata", metadataString(md)); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", "/things/"+t.ID)
	service.WriteJSON(w, http.StatusCreated, viewThing(t))
}

func (s *Service) createChannel(w http.ResponseWriter, r *http.Request, owner string) {
	name, md, ok := decodeEntity(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	c := Channel{ID: id.New(), Owner: owner, Name: name, Metadata: md}
	b, _ := json.Marshal(c)
	if _, err := s.st.channels.Create(ctx, ownedKey(owner, c.ID), b); err != nil {
		s.internal(w, r, fmt.Errorf("storing the channel: %w", err))
		return
	}
	if err := s.event(ctx, "channel.create", "id", c.ID, "owner", owner, "name", c.Name, "metadata", metadataString(md)); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", "/channels/"+c.ID)
	service.WriteJSON(w, http.StatusCreated, viewChannel(c))
}

func (s *Service) getThing(w http.ResponseWriter, r *http.Request, owner string) {
	tid, ok := pathID(w, r, "id", "thing")
	if !ok {
		return
	}
	var t Thing
	if _, err := getJSON(r.Context(), s.st.things, ownedKey(owner, tid), &t); errors.Is(err, errNotFound) {
		notFound(w, "thing", tid)
	} else if err != nil {
		s.internal(w, r, err)
	} else {
		service.WriteJSON(w, http.StatusOK, viewThing(t))
	}
}

func (s *Service) getChannel(w http.ResponseWriter, r *http.Request, owner string) {
	cid, ok := pathID(w, r, "id", "channel")
	if !ok {
		return
	}
	var c Channel
	if _, err := getJSON(r.Context(), s.st.channels, ownedKey(owner, cid), &c); errors.Is(err, errNotFound) {
		notFound(w, "channel", cid)
	} else if err != nil {
		s.internal(w, r, err)
	} else {
		service.WriteJSON(w, http.StatusOK, viewChannel(c))
	}
}

func (s *Service) updateThing(w http.ResponseWriter, r *http.Request, owner string) {
	updateEntity(s, w, r, owner, s.st.things, "thing", viewThing)
}

func (s *Service) updateChannel(w http.ResponseWriter, r *http.Request, owner string) {
	updateEntity(s, w, r, owner, s.st.channels, "channel", viewChannel)
}

// renamer is a pointer to a Thing or a Channel: what an update changes of either.
type renamer[E any] interface {
	*E
	rename(name string, md map[string]any)
}

func (t *Thing) rename(name string, md map[string]any)   { t.Name, t.Metadata = name, md }
func (c *Channel) rename(name string, md map[string]any) { c.Name, c.Metadata = name, md }

// updateEntity is PUT /things/{id} and PUT /channels/{id}: kind ("thing" or "channel") names
// the entity in errors and its event ("<kind>.update"); kv is its bucket.
func updateEntity[E any, P renamer[E], V any](s *Service, w http.ResponseWriter, r *http.Request, owner string, kv jetstream.KeyValue, kind string, view func(E) V) {
	id, ok := pathID(w, r, "id", kind)
	if !ok {
		return
	}
	name, md, ok := decodeEntity(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var e E
	rev, err := getJSON(ctx, kv, ownedKey(owner, id), &e)
	if errors.Is(err, errNotFound) {
		notFound(w, kind, id)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	P(&e).rename(name, md)
	b, _ := json.Marshal(e)
	if _, err := kv.Update(ctx, ownedKey(owner, id), b, rev); errors.Is(err, jetstream.ErrKeyExists) {
		conflict(w, kind, id)
		return
	} else if err != nil {
		s.internal(w, r, fmt.Errorf("updating the %s: %w", kind, err))
		return
	}
	if err := s.event(ctx, kind+".update", "id", id, "name", name, "metadata", metadataString(md)); err != nil {
		s.internal(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, view(e))
}

func (s *Service) removeThing(w http.ResponseWriter, r *http.Request, owner string) {
	tid, ok := pathID(w, r, "id", "thing")
	if !ok {
		return
	}
	ctx := r.Context()
	var t Thing
	if _, err := getJSON(ctx, s.st.things, ownedKey(owner, tid), &t); errors.Is(err, errNotFound) {
		notFound(w, "thing", tid)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	// The thing first: once it is gone, access refuses its key whatever else remains.
	if err := s.st.things.Delete(ctx, ownedKey(owner, tid)); err != nil {
		s.internal(w, r, fmt.Errorf("deleting the thing: %w", err))
		return
	}
	if err := s.st.keys.Delete(ctx, keyHash(t.Key)); err != nil {
		s.internal(w, r, fmt.Errorf("deleting the key index: %w", err))
		return
	}
	if err := deleteAll(ctx, s.st.conns, owner+".*."+tid); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.event(ctx, "thing.remove", "id", tid); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) removeChannel(w http.ResponseWriter, r *http.Request, owner string) {
	cid, ok := pathID(w, r, "id", "channel")
	if !ok {
		return
	}
	ctx := r.Context()
	if found, err := exists(ctx, s.st.channels, ownedKey(owner, cid)); err != nil {
		s.internal(w, r, err)
		return
	} else if !found {
		notFound(w, "channel", cid)
		return
	}
	if err := s.st.channels.Delete(ctx, ownedKey(owner, cid)); err != nil {
		s.internal(w, r, fmt.Errorf("deleting the channel: %w", err))
		return
	}
	if err := deleteAll(ctx, s.st.conns, owner+"."+cid+".*"); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.event(ctx, "channel.remove", "id", cid); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// list answers a page of the entities whose ids are ids, read from kv under owner, in the
// field named plural; entities gone since the ids were listed are skipped.
func list[T any](s *Service, w http.ResponseWriter, r *http.Request, p page, kv jetstream.KeyValue, owner string, ids []string, plural string, view func(T) any) {
	items := []any{}
	for _, eid := range p.window(ids) {
		var v T
		if _, err := getJSON(r.Context(), kv, ownedKey(owner, eid), &v); errors.Is(err, errNotFound) {
			continue
		} else if err != nil {
			s.internal(w, r, err)
			return
		}
		items = append(items, view(v))
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{
		"total": len(ids), "offset": p.offset, "limit": p.limit, plural: items,
	})
}

func idsOf(ks []string, pick func(string) string) []string {
	ids := make([]string, 0, len(ks))
	for _, k := range ks {
		ids = append(ids, pick(k))
	}
	return ids
}

func (s *Service) listThings(w http.ResponseWriter, r *http.Request, owner string) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	ks, err := keys(r.Context(), s.st.things, owner+".*")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	list(s, w, r, p, s.st.things, owner, idsOf(ks, lastToken), "things", func(t Thing) any { return viewThing(t) })
}

func (s *Service) listChannels(w http.ResponseWriter, r *http.Request, owner string) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	ks, err := keys(r.Context(), s.st.channels, owner+".*")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	list(s, w, r, p, s.st.channels, owner, idsOf(ks, lastToken), "channels", func(c Channel) any { return viewChannel(c) })
}

func (s *Service) thingChannels(w http.ResponseWriter, r *http.Request, owner string) {
	if l := r.PathValue("list"); l != "channels" {
		service.Error(w, http.StatusNotFound, fmt.Sprintf("no list %q of a thing; GET /things/<id>/channels lists its channels", l))
		return
	}
	tid, ok := pathID(w, r, "id", "thing")
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	if !s.mustExist(w, r, s.st.things, owner, tid, "thing") {
		return
	}
	ks, err := keys(r.Context(), s.st.conns, owner+".*."+tid)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	middle := func(k string) string { return strings.Split(k, ".")[1] }
	list(s, w, r, p, s.st.channels, owner, idsOf(ks, middle), "channels", func(c Channel) any { return viewChannel(c) })
}

func (s *Service) channelThings(w http.ResponseWriter, r *http.Request, owner string) {
	cid, ok := pathID(w, r, "id", "channel")
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	if !s.mustExist(w, r, s.st.channels, owner, cid, "channel") {
		return
	}
	ks, err := keys(r.Context(), s.st.conns, owner+"."+cid+".*")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	list(s, w, r, p, s.st.things, owner, idsOf(ks, lastToken), "things", func(t Thing) any { return viewThing(t) })
}

// mustExist answers 404 (or 500) and returns false unless owner's entity eid exists in kv.
func (s *Service) mustExist(w http.ResponseWriter, r *http.Request, kv jetstream.KeyValue, owner, eid, what string) bool {
	found, err := exists(r.Context(), kv, ownedKey(owner, eid))
	if err != nil {
		s.internal(w, r, err)
		return false
	}
	if !found {
		notFound(w, what, eid)
	}
	return found
}

// connection checks the path's channel and thing and returns them, or answers and returns false.
func (s *Service) connection(w http.ResponseWriter, r *http.Request, owner string) (cid, tid string, ok bool) {
	if cid, ok = pathID(w, r, "chan", "channel"); !ok {
		return "", "", false
	}
	if tid, ok = pathID(w, r, "thing", "thing"); !ok {
		return "", "", false
	}
	if !s.mustExist(w, r, s.st.channels, owner, cid, "channel") || !s.mustExist(w, r, s.st.things, owner, tid, "thing") {
		return "", "", false
	}
	return cid, tid, true
}

func (s *Service) connect(w http.ResponseWriter, r *http.Request, owner string) {
	cid, tid, ok := s.connection(w, r, owner)
	if !ok {
		return
	}
	ctx := r.Context()
	_, err := s.st.conns.Create(ctx, connKey(owner, cid, tid), []byte("{}"))
	if errors.Is(err, jetstream.ErrKeyExists) {
		w.WriteHeader(http.StatusOK) // already connected: nothing changes, no event
		return
	} else if err != nil {
		s.internal(w, r, fmt.Errorf("storing the connection: %w", err))
		return
	}
	if err := s.event(ctx, "thing.connect", "chan_id", cid, "thing_id", tid); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) disconnect(w http.ResponseWriter, r *http.Request, owner string) {
	cid, tid, ok := s.connection(w, r, owner)
	if !ok {
		return
	}
	ctx := r.Context()
	if found, err := exists(ctx, s.st.conns, connKey(owner, cid, tid)); err != nil {
		s.internal(w, r, err)
		return
	} else if !found {
		service.Error(w, http.StatusNotFound, fmt.Sprintf("thing %s is not connected to channel %s; connect it with PUT /channels/%s/things/%s", tid, cid, cid, tid))
		return
	}
	if err := s.st.conns.Delete(ctx, connKey(owner, cid, tid)); err != nil {
		s.internal(w, r, fmt.Errorf("deleting the connection: %w", err))
		return
	}
	if err := s.event(ctx, "thing.disconnect", "chan_id", cid, "thing_id", tid); err != nil {
		s.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
