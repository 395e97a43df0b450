// Package access asks the things service, over the bus, whether a thing key or a user token
// grants an action on a channel (request-reply on bus.AccessSubject with the protobuf
// messages of proto/cairn/things/v1). Adapters and the messages reader use Ask; the HTTP
// and MQTT adapters ask through a Cache, which keeps thing-key answers until a things event
// changes them (at most GrantTTL for a grant and RefusalTTL for a refusal if an event is
// lost; see Cache for the staleness bound).
package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/bus"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Timeout bounds a question when ctx has no deadline of its own.
const Timeout = 5 * time.Second

// Ask sends req to the things service and returns its answer. An error means no answer
// (no things service, timeout, bad reply): the caller must refuse access (HTTP 503 or 500,
// MQTT "server unavailable").
func Ask(ctx context.Context, nc *nats.Conn, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding an access request: %w", err)
	}
	msg, err := nc.RequestWithContext(ctx, bus.AccessSubject, b)
	// No responders: the things service is not subscribed yet, or its subscription has not
	// reached this node of a cluster yet (interest propagates in milliseconds). Retry
	// within ctx's deadline rather than refuse.
	for errors.Is(err, nats.ErrNoResponders) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("asking the things service for access: %w (no things service answered)", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		msg, err = nc.RequestWithContext(ctx, bus.AccessSubject, b)
	}
	if err != nil {
		return nil, fmt.Errorf("asking the things service for access: %w", err)
	}
	resp := &thingsv1.AccessResponse{}
	if err := proto.Unmarshal(msg.Data, resp); err != nil {
		return nil, fmt.Errorf("decoding the things service's access response: %w", err)
	}
	return resp, nil
}
