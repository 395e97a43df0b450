package messages

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/metrics"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// Authorizer answers access questions: may the holder of a credential act on a channel.
type Authorizer = access.Authorizer

// AuthorizerFunc adapts a function to Authorizer (for tests and wiring).
type AuthorizerFunc func(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	return f(ctx, req)
}

// ErrUnavailable means the question could not be answered (no things service, timeout): the
// caller refuses access and reports the service as unavailable.
var ErrUnavailable = errors.New("access service unavailable")

// busAuthorizer asks the things service over NATS request-reply (access.Ask).
type busAuthorizer struct {
	nc *nats.Conn
}

// BusAuthorizer returns an Authorizer that asks the things service on bus.AccessSubject. A
// question without a deadline waits at most access.Timeout.
func BusAuthorizer(nc *nats.Conn) Authorizer { return busAuthorizer{nc: nc} }

func (b busAuthorizer) Authorize(ctx context.Context, req *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
	resp, err := access.Ask(ctx, b.nc, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return resp, nil
}

// HTTPStatus maps an access answer to the HTTP status a refused caller receives, and
// http.StatusOK when access is granted.
func HTTPStatus(resp *thingsv1.AccessResponse) int {
	switch resp.GetStatus() {
	case thingsv1.AccessResponse_STATUS_ALLOWED:
		return http.StatusOK
	case thingsv1.AccessResponse_STATUS_UNAUTHENTICATED:
		return http.StatusUnauthorized
	case thingsv1.AccessResponse_STATUS_FORBIDDEN:
		return http.StatusForbidden
	case thingsv1.AccessResponse_STATUS_NOT_FOUND:
		return http.StatusNotFound
	case thingsv1.AccessResponse_STATUS_INVALID:
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// RefusalReason names, for the metrics, why an answer of status st (not ALLOWED) refuses.
func RefusalReason(st thingsv1.AccessResponse_Status) string {
	switch st {
	case thingsv1.AccessResponse_STATUS_UNAUTHENTICATED:
		return metrics.ReasonUnauthenticated
	case thingsv1.AccessResponse_STATUS_FORBIDDEN:
		return metrics.ReasonForbidden
	case thingsv1.AccessResponse_STATUS_NOT_FOUND:
		return metrics.ReasonNotFound
	case thingsv1.AccessResponse_STATUS_INVALID:
		return metrics.ReasonInvalid
	default:
		return metrics.ReasonUnavailable
	}
}
