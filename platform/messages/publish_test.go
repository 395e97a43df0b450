package messages_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/messages"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

func TestDecodeAck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *jetstream.PubAck
		err  bool
	}{
		{`{"stream":"MESSAGES","seq":42}`, &jetstream.PubAck{Stream: "MESSAGES", Sequence: 42}, false},
		{`{"stream":"MESSAGES","domain":"hub","seq":7}`, &jetstream.PubAck{Stream: "MESSAGES", Sequence: 7, Domain: "hub"}, false},
		{`{"stream":"MESSAGES","seq":7,"duplicate":true}`, &jetstream.PubAck{Stream: "MESSAGES", Sequence: 7, Duplicate: true}, false},
		{`{"stream":"OTHER","seq":1}`, &jetstream.PubAck{Stream: "OTHER", Sequence: 1}, false},
		{`{"seq":3,"stream":"MESSAGES"}`, &jetstream.PubAck{Stream: "MESSAGES", Sequence: 3}, false}, // by encoding/json
		{`{"stream":"MESSAGES","seq":99999999999999999999999}`, nil, true},
		{`{"stream":"MESSAGES","seq":012}`, nil, true},
		{`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"MESSAGES","seq":0}`, nil, true},
		{`not json`, nil, true},
	} {
		got, err := messages.DecodeAck([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("DecodeAck(%s) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("DecodeAck(%s) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// FuzzDecodeAck: the hand decoder agrees with encoding/json wherever it decodes.
func FuzzDecodeAck(f *testing.F) {
	for _, s := range []string{`{"stream":"MESSAGES","seq":42}`, `{"stream":"M","seq":1,"duplicate":true}`, `{"stream":"a\"b","seq":1}`, `{"stream":"MESSAGES","seq":1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := messages.DecodeAck(b)
		if err != nil {
			return
		}
		var want jetstream.PubAck
		if jerr := json.Unmarshal(b, &want); jerr != nil {
			t.Fatalf("DecodeAck(%q) = %+v, but encoding/json refuses it: %v", b, got, jerr)
		}
		if want.Stream != got.Stream || want.Sequence != got.Sequence {
			t.Fatalf("DecodeAck(%q) = %+v, encoding/json says %+v", b, *got, want)
		}
	})
}

func TestPublish(t *testing.T) {
	b := bustest.New(t)
	p := messages.NewPublisher(b.JS)
	m := &messagingv1.Message{Channel: "c1", Publisher: "t", Protocol: "http", Payload: []byte("x")}
	seq1, err := p.Publish(context.Background(), m, "")
	if err != nil {
		t.Fatal(err)
	}
	seq2, err := p.Publish(context.Background(), m, "id-1")
	if err != nil {
		t.Fatal(err)
	}
	seq3, err := p.Publish(context.Background(), m, "id-1") // a retry: stored once
	if err != nil {
		t.Fatal(err)
	}
	if seq1 != 1 || seq2 != 2 || seq3 != 2 {
		t.Errorf("Publish sequences = %d, %d, %d; want 1, 2 and 2 (the retry stored once)", seq1, seq2, seq3)
	}
	if err := b.JS.DeleteStream(context.Background(), messages.Stream); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), m, ""); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("Publish without the stream = %v, want %v", err, jetstream.ErrNoStreamResponse)
	}
}
