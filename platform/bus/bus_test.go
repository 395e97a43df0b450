package bus_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/natsd"
)

func TestMessagesSubject(t *testing.T) {
	tests := []struct {
		channel, subtopic string
		want              string
		wantErr           string
	}{
		{"c1", "", "channels.c1.messages", ""},
		{"c1", "a", "channels.c1.messages.a", ""},
		{"c1", "a/b/c", "channels.c1.messages.a.b.c", ""},
		{"0190-ab", "temp_1/x-y", "channels.0190-ab.messages.temp_1.x-y", ""},
		{"", "", "", "empty token"},
		{"c.1", "", "", "separator"},
		{"c*", "", "", "wildcard"},
		{">", "", "", "wildcard"},
		{"c1", "a//b", "", "empty token"},
		{"c1", "/a", "", "empty token"},
		{"c1", "a/", "", "empty token"},
		{"c1", "a/+/b", "", "wildcard"},
		{"c1", "#", "", "wildcard"},
		{"c1", "a/*", "", "wildcard"},
		{"c1", "a/>", "", "wildcard"},
		{"c1", "a.b", "", "separator"},
		{"c1", "a b", "", "whitespace"},
		{"c1", "a\x00", "", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.channel+"|"+tt.subtopic, func(t *testing.T) {
			got, err := bus.MessagesSubject(tt.channel, tt.subtopic)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MessagesSubject(%q, %q) = %q, %v, want error containing %q", tt.channel, tt.subtopic, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MessagesSubject(%q, %q) = %q, %v, want %q", tt.channel, tt.subtopic, got, err, tt.want)
			}
			ch, sub, err := bus.ParseMessagesSubject(got)
			wantSub := strings.ReplaceAll(tt.subtopic, "/", ".")
			if err != nil || ch != tt.channel || sub != wantSub {
				t.Errorf("ParseMessagesSubject(%q) = %q, %q, %v, want %q, %q", got, ch, sub, err, tt.channel, wantSub)
			}
		})
	}
}

func TestParseMessagesSubjectRefuses(t *testing.T) {
	for _, s := range []string{"", "channels", "channels.c1", "channels.c1.other", "events.things", "x.c1.messages"} {
		if ch, sub, err := bus.ParseMessagesSubject(s); err == nil {
			t.Errorf("ParseMessagesSubject(%q) = %q, %q, nil, want an error", s, ch, sub)
		}
	}
}

func TestEnsureStreamsIdempotent(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	for i := range 2 {
		if err := bus.EnsureStreams(ctx, b.JS, bus.Layout{}); err != nil {
			t.Fatalf("EnsureStreams (call %d) = %v, want nil", i+2, err)
		}
	}
	for _, name := range []string{bus.MessagesStream, bus.EventsStream} {
		s, err := b.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if got := s.CachedInfo().Config.Storage; got != jetstream.FileStorage {
			t.Errorf("stream %s storage = %v, want file", name, got)
		}
	}
	for _, name := range []string{bus.UsersBucket, bus.TokensBucket, bus.ThingsBucket, bus.ThingKeysBucket, bus.ChannelsBucket, bus.ConnectionsBucket, bus.MetaBucket} {
		if _, err := b.JS.KeyValue(ctx, name); err != nil {
			t.Errorf("bucket %s: %v", name, err)
		}
	}
}

func TestMessagesDedupe(t *testing.T) {
	b := bustest.New(t)
	ctx := context.Background()
	subj, err := bus.MessagesSubject("c1", "a/b")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		msg := nats.NewMsg(subj)
		msg.Data = []byte("payload")
		msg.Header.Set(jetstream.MsgIDHeader, "id-1")
		ack, err := b.JS.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate != (i > 0) {
			t.Errorf("publish %d: Duplicate = %v, want %v", i, ack.Duplicate, i > 0)
		}
	}
	if _, err := b.JS.Publish(ctx, "channels.c1.messages", []byte("other")); err != nil {
		t.Fatal(err)
	}
	s, err := b.JS.Stream(ctx, bus.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("MESSAGES holds %d messages, want 2 (one deduplicated, one plain)", info.State.Msgs)
	}
}

// TestReopen stops a bus and opens the same data directory again: what was stored is there.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := bustest.OpenDir(t, dir)
	kv, err := b.JS.KeyValue(ctx, bus.ThingsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "owner.thing", []byte(`{"id":"thing"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "channels.c1.messages", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	b = bustest.OpenDir(t, dir)
	kv, err = b.JS.KeyValue(ctx, bus.ThingsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "owner.thing")
	if err != nil {
		t.Fatalf("after reopening, Get(owner.thing) = %v", err)
	}
	if got, want := string(e.Value()), `{"id":"thing"}`; got != want {
		t.Errorf("after reopening, owner.thing = %s, want %s", got, want)
	}
	s, err := b.JS.Stream(ctx, bus.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, "channels.c1.messages")
	if err != nil || string(m.Data) != "kept" {
		t.Errorf("after reopening, last message = %v, %v, want kept", m, err)
	}
}

func TestFormatVersion(t *testing.T) {
	tests := []struct {
		stored  string
		wantErr string
	}{
		{strconv.Itoa(bus.FormatVersion), ""},
		{"1", ""},
		{strconv.Itoa(bus.FormatVersion + 1), "upgrade cairn"},
		{"x", "want a positive number"},
		{"0", "want a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.stored, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			b := bustest.OpenDir(t, dir)
			kv, err := b.JS.KeyValue(ctx, bus.MetaBucket)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, "format", []byte(tt.stored)); err != nil {
				t.Fatal(err)
			}
			b.Close()
			srv, err := natsd.Start(natsd.Options{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			b2, err := bus.Open(ctx, bus.Options{Server: srv})
			if err == nil {
				b2.Close()
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open with format %s = %v, want nil", tt.stored, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open with format %s = %v, want error containing %q", tt.stored, err, tt.wantErr)
			}
		})
	}
}

func TestListen(t *testing.T) {
	_, url := bustest.Listen(t)
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("Listen URL = %q, want nats://127.0.0.1:<port>", url)
	}
	b2, err := bus.Open(context.Background(), bus.Options{URL: url, Name: "second"})
	if err != nil {
		t.Fatalf("Open(URL %s) = %v", url, err)
	}
	defer b2.Close()
	if _, err := b2.JS.Publish(context.Background(), "events.test", []byte(`{"a":"b"}`)); err != nil {
		t.Errorf("publishing through the external connection: %v", err)
	}
}

func TestOpenNeedsNATS(t *testing.T) {
	_, err := bus.Open(context.Background(), bus.Options{})
	if err == nil || !strings.Contains(err.Error(), "CAIRN_NATS_URL") {
		t.Fatalf("Open without URL or server = %v, want an error naming CAIRN_NATS_URL", err)
	}
}
