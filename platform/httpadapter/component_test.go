package httpadapter_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/service"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// TestComponentCacheFollowsEvents: the component caches access answers (TTLs of an hour
// here, so only an event can end one) and the things events on the bus drop them: a
// disconnected or removed thing is refused, a connected one accepted, without waiting.
func TestComponentCacheFollowsEvents(t *testing.T) {
	b := bustest.New(t)
	const thing, key, channel = "thing-1", "key-1", "chan-1"
	var mu sync.Mutex
	status, asked := thingsv1.AccessResponse_STATUS_ALLOWED, 0
	sub, err := b.Conn.Subscribe(bus.AccessSubject, func(m *nats.Msg) {
		mu.Lock()
		st := status
		asked++
		mu.Unlock()
		resp := &thingsv1.AccessResponse{Status: st, ThingId: thing}
		if st == thingsv1.AccessResponse_STATUS_UNAUTHENTICATED {
			resp.ThingId = ""
		}
		data, _ := proto.Marshal(resp)
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	set := func(st thingsv1.AccessResponse_Status) {
		mu.Lock()
		defer mu.Unlock()
		status = st
	}
	questions := func() int {
		mu.Lock()
		defer mu.Unlock()
		return asked
	}

	ctx, cancel := context.WithCancel(context.Background())
	c, err := httpadapter.Component(httpadapter.WithAccessCache(access.WithTTL(time.Hour, time.Hour)))(ctx,
		service.Deps{Log: slog.New(slog.DiscardHandler), Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}()
	mux := http.NewServeMux()
	c.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func() int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/channels/"+channel+"/messages", strings.NewReader("x"))
		req.Header.Set("Authorization", "Thing "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// until publishes until the answer is want; the test's deadline bounds it, and with TTLs
	// of an hour only the event can change the answer.
	until := func(want int) {
		t.Helper()
		for post() != want {
			time.Sleep(time.Millisecond)
		}
	}
	emit := func(fields map[string]string) {
		t.Helper()
		if err := events.Publish(context.Background(), b.JS, events.ThingsSubject, fields); err != nil {
			t.Fatal(err)
		}
	}

	for range 3 {
		if got := post(); got != 202 {
			t.Fatalf("POST = %d, want 202", got)
		}
	}
	if got := questions(); got != 1 {
		t.Errorf("things service asked %d times for 3 publishes, want 1 (cached)", got)
	}
	set(thingsv1.AccessResponse_STATUS_FORBIDDEN)
	if got := post(); got != 202 {
		t.Errorf("POST before the disconnect event = %d, want the cached grant 202", got)
	}
	emit(map[string]string{"operation": "thing.disconnect", "chan_id": channel, "thing_id": thing})
	until(403)
	set(thingsv1.AccessResponse_STATUS_ALLOWED)
	emit(map[string]string{"operation": "thing.connect", "chan_id": channel, "thing_id": thing})
	until(202)
	set(thingsv1.AccessResponse_STATUS_UNAUTHENTICATED)
	emit(map[string]string{"operation": "thing.remove", "id": thing})
	until(401)
}
