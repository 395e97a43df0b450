package things

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/id"
	"github.com/cairn-iot/cairn/platform/users"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// QueueGroup is the queue group the things service answers access requests in.
const QueueGroup = "things"

// maxInFlight bounds the access requests answered at once by one instance.
const maxInFlight = 64

// ServeAccess answers access requests on bus.AccessSubject until ctx is cancelled, then
// drains its subscription and waits for the answers in flight. A request it cannot decode
// gets STATUS_INVALID; one it cannot answer (storage failure) gets no reply, so the
// requester times out and refuses.
func (s *Service) ServeAccess(ctx context.Context) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxInFlight)
	sub, err := s.nc.QueueSubscribe(bus.AccessSubject, QueueGroup, func(m *nats.Msg) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.answer(ctx, m)
		})
	})
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", bus.AccessSubject, err)
	}
	<-ctx.Done()
	if err := sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.log.Warn("draining the access subscription", "err", err)
	}
	for deadline := time.Now().Add(5 * time.Second); sub.IsValid() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	return nil
}

func (s *Service) answer(ctx context.Context, m *nats.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req := &thingsv1.AccessRequest{}
	var resp *thingsv1.AccessResponse
	if err := proto.Unmarshal(m.Data, req); err != nil {
		resp = &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_INVALID}
	} else if resp, err = s.Access(ctx, req); err != nil {
		s.log.Error("answering an access request", "channel", req.GetChannel(), "action", req.GetAction().String(), "err", err)
		return
	}
	b, err := proto.Marshal(resp)
	if err == nil {
		err = m.Respond(b)
	}
	if err != nil {
		s.log.Warn("replying to an access request", "err", err)
	}
}

// Access decides req. An error means storage failed, not that access is refused.
func (s *Service) Access(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	status := func(st thingsv1.AccessResponse_Status) *thingsv1.AccessResponse {
		return &thingsv1.AccessResponse{Status: st}
	}
	switch req.GetAction() {
	case thingsv1.Action_ACTION_PUBLISH, thingsv1.Action_ACTION_SUBSCRIBE, thingsv1.Action_ACTION_READ:
	default:
		return status(thingsv1.AccessResponse_STATUS_INVALID), nil
	}
	if req.GetChannel() == "" {
		return status(thingsv1.AccessResponse_STATUS_INVALID), nil
	}
	if n := nonEmpty(req.GetKey(), req.GetToken(), req.GetVouchedThingId()); n != 1 {
		return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED), nil
	}
	cid := req.GetChannel()
	if req.GetToken() != "" {
		uid, err := users.Identify(ctx, s.js, req.GetToken())
		if errors.Is(err, users.ErrUnauthenticated) {
			return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED), nil
		} else if err != nil {
			return nil, err
		}
		if req.GetAction() != thingsv1.Action_ACTION_READ {
			return &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_FORBIDDEN, UserId: uid}, nil
		}
		if !id.Valid(cid) {
			return &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_NOT_FOUND, UserId: uid}, nil
		}
		found, err := exists(ctx, s.st.channels, ownedKey(uid, cid))
		if err != nil {
			return nil, err
		}
		if !found {
			return &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_NOT_FOUND, UserId: uid}, nil
		}
		return &thingsv1.AccessResponse{Status: thingsv1.AccessResponse_STATUS_ALLOWED, UserId: uid}, nil
	}

	t, err := s.accessThing(ctx, req)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED), nil
	}
	allowed := func(st thingsv1.AccessResponse_Status) *thingsv1.AccessResponse {
		return &thingsv1.AccessResponse{Status: st, ThingId: t.ID}
	}
	// A thing only ever connects to its owner's channels, so the channel is looked up
	// under the thing's owner: another owner's channel is "not found".
	if !id.Valid(cid) {
		return allowed(thingsv1.AccessResponse_STATUS_NOT_FOUND), nil
	}
	found, err := exists(ctx, s.st.channels, ownedKey(t.Owner, cid))
	if err != nil {
		return nil, err
	}
	if !found {
		return allowed(thingsv1.AccessResponse_STATUS_NOT_FOUND), nil
	}
	connected, err := exists(ctx, s.st.conns, connKey(t.Owner, cid, t.ID))
	if err != nil {
		return nil, err
	}
	if !connected {
		return allowed(thingsv1.AccessResponse_STATUS_FORBIDDEN), nil
	}
	return allowed(thingsv1.AccessResponse_STATUS_ALLOWED), nil
}

func nonEmpty(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// accessThing returns the thing req authenticates as, by its key or as its adapter vouches
// (VouchedThingId); nil if it authenticates none (unknown key or thing, removed thing, a
// key of another thing than thing_id).
func (s *Service) accessThing(ctx context.Context, req *thingsv1.AccessRequest) (*Thing, error) {
	var ref keyRef
	if cid := req.GetVouchedThingId(); cid != "" {
		if !id.Valid(cid) || (req.GetThingId() != "" && req.GetThingId() != cid) {
			return nil, nil
		}
		ks, err := keys(ctx, s.st.things, "*."+cid)
		if err != nil || len(ks) != 1 {
			return nil, err
		}
		ref.Owner, ref.ID = strings.TrimSuffix(ks[0], "."+cid), cid
	} else if _, err := getJSON(ctx, s.st.keys, keyHash(req.GetKey()), &ref); errors.Is(err, errNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var t Thing
	if _, err := getJSON(ctx, s.st.things, ownedKey(ref.Owner, ref.ID), &t); errors.Is(err, errNotFound) {
		return nil, nil // removed thing
	} else if err != nil {
		return nil, err
	}
	if req.GetVouchedThingId() == "" && (t.Key != req.GetKey() || (req.GetThingId() != "" && req.GetThingId() != t.ID)) {
		return nil, nil
	}
	return &t, nil
}
