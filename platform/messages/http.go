package messages

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-iot/cairn/platform/service"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Paging limits of GET /channels/{id}/messages.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Service serves the stored messages over HTTP:
//
//	GET /channels/{id}/messages?offset=0&limit=10
//	Authorization: Bearer <user token>   (the channel's owner)
//	Authorization: Thing <thing key>     (a thing connected to the channel)
//
// 200 {"total","offset","limit","messages":[{channel,subtopic,publisher,protocol,payload,
// created}]}, oldest first; payload is the payload text when it is valid UTF-8, otherwise its
// base64 with "encoding":"base64". 400 bad offset/limit, 401 no or unknown credential, 403
// thing not connected, 404 unknown channel (or not the user's), 503 bus unavailable.
type Service struct {
	auth   Authorizer
	reader *Reader
	log    *slog.Logger
}

// NewService returns the reader's HTTP service. A nil log discards.
func NewService(auth Authorizer, reader *Reader, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{auth: auth, reader: reader, log: log}
}

// Register adds the service's routes to mux (the standalone server's or the all-in-one's).
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /channels/{id}/messages", s.list)
}

// Handler returns a mux with only the service's routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	return mux
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	channel := r.PathValue("id")
	req := &thingsv1.AccessRequest{Channel: channel, Action: thingsv1.Action_ACTION_READ}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		req.Token = cred
	case strings.EqualFold(scheme, "Thing") && cred != "":
		req.Key = cred
	default:
		service.Error(w, http.StatusUnauthorized, "missing credential: send `Authorization: Bearer <user token>` (channel owner) or `Authorization: Thing <thing key>` (connected thing)")
		return
	}
	offset, err := queryUint(r, "offset", 0)
	if err != nil {
		service.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := queryUint(r, "limit", DefaultLimit)
	if err != nil {
		service.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if limit > MaxLimit {
		service.Error(w, http.StatusBadRequest, fmt.Sprintf("limit is %d, at most %d is allowed: page with offset", limit, MaxLimit))
		return
	}
	if !ValidName(channel) {
		service.Error(w, http.StatusNotFound, fmt.Sprintf("channel %q not found", channel))
		return
	}
	resp, err := s.auth.Authorize(r.Context(), req)
	if err != nil {
		s.log.Error("asking access", "channel", channel, "error", err)
		service.Error(w, http.StatusServiceUnavailable, "cannot check access now: the things service did not answer; retry later")
		return
	}
	if code := HTTPStatus(resp); code != http.StatusOK {
		service.Error(w, code, AccessMessage(resp, channel))
		return
	}
	page, err := s.reader.Read(r.Context(), channel, offset, limit)
	if err != nil {
		s.log.Error("reading messages", "channel", channel, "error", err)
		w.Header().Set("Retry-After", "1")
		if errors.Is(err, ErrBehind) {
			service.Error(w, http.StatusServiceUnavailable, "the message store is catching up after a failover; retry in a second")
			return
		}
		service.Error(w, http.StatusServiceUnavailable, "cannot read the message store now; retry later")
		return
	}
	service.WriteJSON(w, http.StatusOK, page)
}

func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is %q, want a non-negative integer", name, v)
	}
	return n, nil
}

// AccessMessage explains a refused access answer to the caller.
func AccessMessage(resp *thingsv1.AccessResponse, channel string) string {
	switch resp.GetStatus() {
	case thingsv1.AccessResponse_STATUS_UNAUTHENTICATED:
		return "credential not recognised: send the key of an existing thing (`Authorization: Thing <key>`) or, to read messages, a valid user token (`Authorization: Bearer <token>`)"
	case thingsv1.AccessResponse_STATUS_FORBIDDEN:
		return fmt.Sprintf("not allowed on channel %q: connect the thing to the channel first (PUT /channels/%s/things/<thing id>)", channel, channel)
	case thingsv1.AccessResponse_STATUS_NOT_FOUND:
		return fmt.Sprintf("channel %q not found", channel)
	case thingsv1.AccessResponse_STATUS_INVALID:
		return fmt.Sprintf("access request for channel %q is malformed", channel)
	default:
		return fmt.Sprintf("access service answered %s", resp.GetStatus())
	}
}
