// Package messagestest gives the adapters' and the reader's unit tests a fake things service:
// an Authorizer that answers from a fixed table of things, channels and connections the way
// the things service does (proto/cairn/things/v1/access.proto).
package messagestest

import (
	"context"
	"slices"

	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Fixture ids and credentials.
const (
	Token     = "user-token"   // owns every channel
	Thing1    = "thing-1"      // connected to Channel1
	Key1      = "key-1"        // Thing1's key
	Thing2    = "thing-2"      // connected to nothing
	Key2      = "key-2"        // Thing2's key
	Channel1  = "chan-1"       // Thing1 connected
	Channel2  = "chan-2"       // nobody connected
	Channel3  = "chan-3"       // Thing1 connected
	NoChannel = "chan-missing" // does not exist
)

// Authorizer answers like the things service with the fixture above.
type Authorizer struct{}

// Authorize answers req.
func (Authorizer) Authorize(_ context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	status := func(s thingsv1.AccessResponse_Status, thing string) (*thingsv1.AccessResponse, error) {
		return &thingsv1.AccessResponse{Status: s, ThingId: thing}, nil
	}
	channels := map[string][]string{Channel1: {Thing1}, Channel2: nil, Channel3: {Thing1}}
	if n := btoi(req.Token != "") + btoi(req.Key != "") + btoi(req.VouchedThingId != ""); n != 1 {
		return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED, "")
	}
	if req.Token != "" {
		if req.Token != Token {
			return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED, "")
		}
		if req.Action != thingsv1.Action_ACTION_READ {
			return status(thingsv1.AccessResponse_STATUS_FORBIDDEN, "")
		}
		if _, ok := channels[req.Channel]; !ok {
			return status(thingsv1.AccessResponse_STATUS_NOT_FOUND, "")
		}
		return status(thingsv1.AccessResponse_STATUS_ALLOWED, "")
	}
	thing := map[string]string{Key1: Thing1, Key2: Thing2}[req.Key]
	if v := req.VouchedThingId; v == Thing1 || v == Thing2 { // a certificate or a restored session
		thing = v
	}
	if thing == "" || (req.ThingId != "" && req.ThingId != thing) {
		return status(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED, "")
	}
	if req.Channel == "" || req.Action == thingsv1.Action_ACTION_UNSPECIFIED {
		return status(thingsv1.AccessResponse_STATUS_INVALID, thing)
	}
	connected, ok := channels[req.Channel]
	if !ok {
		return status(thingsv1.AccessResponse_STATUS_NOT_FOUND, thing)
	}
	if !slices.Contains(connected, thing) {
		return status(thingsv1.AccessResponse_STATUS_FORBIDDEN, thing)
	}
	return status(thingsv1.AccessResponse_STATUS_ALLOWED, thing)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
