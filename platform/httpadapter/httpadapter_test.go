package httpadapter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

func TestPublish(t *testing.T) {
	b := bustest.New(t)
	clock := time.Unix(1700000000, 5)
	a, err := httpadapter.New(mt.Authorizer{}, messages.NewPublisher(b.JS),
		httpadapter.WithMaxPayload(16), httpadapter.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	tests := []struct {
		name, path, auth, body string
		header                 map[string]string
		want                   int
	}{
		{name: "accepted", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key1, body: "hello", want: 202},
		{name: "subtopic", path: "/channels/" + mt.Channel1 + "/messages/room/temp", auth: "thing " + mt.Key1, body: "21.5", want: 202},
		{name: "idempotent first", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key1, body: "once", header: map[string]string{"Idempotency-Key": "k"}, want: 202},
		{name: "idempotent retry", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key1, body: "once", header: map[string]string{"Idempotency-Key": "k"}, want: 202},
		{name: "no key", path: "/channels/" + mt.Channel1 + "/messages", body: "x", want: 401},
		{name: "bearer instead of thing", path: "/channels/" + mt.Channel1 + "/messages", auth: "Bearer " + mt.Token, body: "x", want: 401},
		{name: "wrong key", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing nope", body: "x", want: 401},
		{name: "not connected", path: "/channels/" + mt.Channel2 + "/messages", auth: "Thing " + mt.Key1, body: "x", want: 403},
		{name: "other thing not connected", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key2, body: "x", want: 403},
		{name: "unknown channel", path: "/channels/" + mt.NoChannel + "/messages", auth: "Thing " + mt.Key1, body: "x", want: 404},
		{name: "channel with wildcard", path: "/channels/a*b/messages", auth: "Thing " + mt.Key1, body: "x", want: 404},
		{name: "oversized", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key1, body: strings.Repeat("x", 17), want: 413},
		{name: "bad subtopic wildcard", path: "/channels/" + mt.Channel1 + "/messages/a/%2B", auth: "Thing " + mt.Key1, body: "x", want: 400},
		{name: "bad subtopic dot", path: "/channels/" + mt.Channel1 + "/messages/a.b", auth: "Thing " + mt.Key1, body: "x", want: 400},
		{name: "bad subtopic trailing slash", path: "/channels/" + mt.Channel1 + "/messages/", auth: "Thing " + mt.Key1, body: "x", want: 400},
		{name: "GET not allowed", path: "/channels/" + mt.Channel1 + "/messages", auth: "Thing " + mt.Key1, want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.want == 405 {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}

	// Only the accepted publishes are stored, the idempotent retry once.
	page, err := messages.NewReader(b.JS).Read(context.Background(), mt.Channel1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := messages.Page{Total: 3, Offset: 0, Limit: 100, Messages: []messages.Record{
		{Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "http", Payload: "hello", Created: clock.UnixNano()},
		{Channel: mt.Channel1, Subtopic: "room.temp", Publisher: mt.Thing1, Protocol: "http", Payload: "21.5", Created: clock.UnixNano()},
		{Channel: mt.Channel1, Publisher: mt.Thing1, Protocol: "http", Payload: "once", Created: clock.UnixNano()},
	}}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("stored messages of %s (-want +got):\n%s", mt.Channel1, diff)
	}
	page, err = messages.NewReader(b.JS).Read(context.Background(), mt.Channel2, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 0 {
		t.Errorf("stored messages of %s = %d, want 0 (every publish there was refused)", mt.Channel2, page.Total)
	}
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, *messagingv1.Message, string) (uint64, error) {
	return 0, errors.New("no stream response")
}

func TestUnavailable(t *testing.T) {
	down := messages.AuthorizerFunc(func(context.Context, *thingsv1.AccessRequest) (*thingsv1.AccessResponse, error) {
		return nil, messages.ErrUnavailable
	})
	tests := []struct {
		name string
		auth messages.Authorizer
		pub  httpadapter.Publisher
	}{
		{"things service down", down, failingPublisher{}},
		{"stream does not acknowledge", mt.Authorizer{}, failingPublisher{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := httpadapter.New(tt.auth, tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/channels/"+mt.Channel1+"/messages", strings.NewReader("x"))
			req.Header.Set("Authorization", "Thing "+mt.Key1)
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("POST with %s = %d %s, want 503", tt.name, rec.Code, rec.Body)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	if _, err := httpadapter.New(mt.Authorizer{}, failingPublisher{}, httpadapter.WithMaxPayload(0)); err == nil {
		t.Errorf("New(WithMaxPayload(0)) succeeded, want an error")
	}
}
