package events_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
)

func TestPublishReplay(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	published := []struct {
		subject string
		fields  map[string]string
	}{
		{events.ThingsSubject, map[string]string{"operation": "thing.create", "id": "t1", "owner": "u1", "name": "lamp"}},
		{events.MQTTSubject, map[string]string{"thing_id": "t1", "event_type": "connect", "timestamp": "1", "instance": "mqtt-1"}},
		{events.ThingsSubject, map[string]string{"operation": "thing.remove", "id": "t1"}},
	}
	for _, p := range published {
		if err := events.Publish(ctx, b.JS, p.subject, p.fields); err != nil {
			t.Fatalf("Publish(%s, %v) = %v", p.subject, p.fields, err)
		}
	}
	got, err := events.All(ctx, b.JS, events.ThingsSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := []events.Event{
		{Seq: 1, Subject: events.ThingsSubject, Fields: published[0].fields},
		{Seq: 3, Subject: events.ThingsSubject, Fields: published[2].fields},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("All(events.things) (-want +got):\n%s", diff)
	}
	got, err = events.All(ctx, b.JS, "events.>")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Subject != events.MQTTSubject {
		t.Errorf("All(events.>) = %v, want the 3 events in order", got)
	}
	// A subject nothing was appended to replays empty, without waiting.
	got, err = events.All(ctx, b.JS, "events.none")
	if err != nil || len(got) != 0 {
		t.Errorf("All(events.none) = %v, %v, want none", got, err)
	}
	// fn's error stops the replay and is returned.
	stop := errors.New("stop")
	n := 0
	err = events.Replay(ctx, b.JS, "events.>", func(events.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Replay with failing fn = %v after %d events, want stop after 1", err, n)
	}
}

func TestPublishRefuses(t *testing.T) {
	b := bustest.New(t)
	tests := []struct {
		subject string
		fields  map[string]string
	}{
		{"things", map[string]string{"operation": "x"}},
		{"events.*", map[string]string{"operation": "x"}},
		{"events.>", map[string]string{"operation": "x"}},
		{"events.things", nil},
	}
	for _, tt := range tests {
		if err := events.Publish(context.Background(), b.JS, tt.subject, tt.fields); err == nil {
			t.Errorf("Publish(%q, %v) = nil, want an error", tt.subject, tt.fields)
		}
	}
}

// TestReplayManyTimes: replays leave no consumer behind (the server allows 1000 per stream,
// and would refuse the 1001st replay within the inactivity threshold).
func TestReplayManyTimes(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	if err := events.Publish(ctx, b.JS, events.ThingsSubject, map[string]string{"operation": "thing.remove", "id": "x"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if evs, err := events.All(ctx, b.JS, events.ThingsSubject); err != nil || len(evs) != 1 {
			t.Fatalf("replay %d = %d events, %v, want 1", i, len(evs), err)
		}
	}
	s, err := b.JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("after the replays the stream has %d consumers, want 0", info.State.Consumers)
	}
}

// TestReplayLong replays more events than one fetch returns, in order.
func TestReplayLong(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	const n = 700
	for i := range n {
		if err := events.Publish(ctx, b.JS, events.ThingsSubject, map[string]string{"operation": "thing.create", "id": strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := events.All(ctx, b.JS, events.ThingsSubject)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("All = %d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if e.Fields["id"] != strconv.Itoa(i) || e.Seq != uint64(i+1) {
			t.Fatalf("event %d = %+v, want id %d, seq %d", i, e, i, i+1)
		}
	}
}
