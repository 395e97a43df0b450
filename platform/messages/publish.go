package messages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"

	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// DefaultMaxPayload is the largest payload the adapters accept by default: 256 KiB, well
// under NATS's default max_payload of 1 MiB once the envelope is added.
const DefaultMaxPayload = 256 << 10

// Publisher puts messages on the bus through JetStream, so that a successful Publish means
// the MESSAGES stream stored the message.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// NewID returns a fresh message id for Publish. The adapters pass none for a message that
// has no idempotency key of its own: a random id deduplicates nothing (Publish retries only
// when no stream answered, which means nothing was stored), but the stream would keep it
// for its duplicate window, which at 20,000 messages a second is millions of entries.
func NewID() string { return nuid.Next() }

// IdempotentID returns the message id of a publish that the client marked with key (HTTP
// Idempotency-Key): the same thing retrying the same key on the same channel gets the same id,
// and JetStream stores the message once within the stream's duplicate window.
func IdempotentID(publisher, channel, key string) string {
	h := sha256.New()
	for _, s := range []string{publisher, channel, key} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Publish stores m on the subject Subject(m.Channel, m.Subtopic) with the Nats-Msg-Id id
// (none if id is empty): retries by clients with the same id are stored once. Publish itself
// retries, up to 3 times a quarter second apart, only when no stream answered (nothing was
// stored); without a deadline in ctx it waits at most PublishTimeout for the acknowledgement
// (and only the retries watch ctx). It returns the stream sequence.
//
// It is JetStream's publish (a request whose reply is the stream's acknowledgement) with the
// acknowledgement decoded by hand: encoding/json's decoding of it, in the jetstream package,
// was a twentieth of the platform's CPU per HTTP message.
func (p *Publisher) Publish(ctx context.Context, m *messagingv1.Message, id string) (uint64, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encoding message: %w", err)
	}
	msg := &nats.Msg{Subject: Subject(m.GetChannel(), m.GetSubtopic()), Data: data}
	if id != "" {
		msg.Header = nats.Header{jetstream.MsgIDHeader: []string{id}}
	}
	nc := p.js.Conn()
	request := func() (*nats.Msg, error) { return nc.RequestMsgWithContext(ctx, msg) }
	if _, ok := ctx.Deadline(); !ok {
		// No deadline (an HTTP request's context): nats.go's request with a timeout, whose
		// timers are pooled, rather than a context and a timer per message.
		request = func() (*nats.Msg, error) { return nc.RequestMsg(msg, PublishTimeout) }
	}
	resp, err := request()
	// No responders: nothing stored the message (MESSAGES has no leader during an election,
	// which takes seconds): retrying is safe, within PublishTimeout.
	for start := time.Now(); errors.Is(err, nats.ErrNoResponders) && time.Since(start) < PublishTimeout; {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("publishing message to stream %s: %w", Stream, ctx.Err())
		case <-time.After(jetstream.DefaultPubRetryWait):
		}
		resp, err = request()
	}
	if errors.Is(err, nats.ErrNoResponders) {
		err = jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return 0, fmt.Errorf("publishing message to stream %s: %w", Stream, err)
	}
	ack, err := DecodeAck(resp.Data)
	if err != nil {
		return 0, err
	}
	if err := CheckAck(ack); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// PublishTimeout bounds a Publish whose context has no deadline.
const PublishTimeout = 5 * time.Second

// DecodeAck decodes a JetStream publish acknowledgement: the stream's usual answer
// {"stream":"<name>","seq":<n>} by hand, anything else (an error, a domain, a duplicate)
// with encoding/json.
func DecodeAck(b []byte) (*jetstream.PubAck, error) {
	if ack, ok := decodeAckFast(b); ok {
		return ack, nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error"`
		jetstream.PubAck
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("publishing message: decoding the acknowledgement %q: %w", b, err)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("publishing message to stream %s: %w", Stream, r.Error)
	}
	return &r.PubAck, nil
}

// CheckAck returns an error unless ack comes from the stream Stream. The publishes carry no
// Nats-Expected-Stream header, whose check costs the server a header parse per message:
// JetStream lets only one stream of an account hold a subject, so the acknowledgement's
// stream name is checked here instead.
func CheckAck(ack *jetstream.PubAck) error {
	if ack == nil || ack.Stream != Stream {
		name := "none"
		if ack != nil {
			name = ack.Stream
		}
		return fmt.Errorf("publishing message: stored by stream %q, want %s; the channel subjects belong to %s only", name, Stream, Stream)
	}
	return nil
}

// Send publishes m to the stream without waiting: the stream's acknowledgement (DecodeAck,
// then CheckAck) comes to the subject reply, or, when no stream listens, a message without
// data whose header Status is "503" (IsNoResponders). Messages sent from one goroutine are
// stored in the order they were sent.
func (p *Publisher) Send(m *messagingv1.Message, reply string) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding message: %w", err)
	}
	if err := p.js.Conn().PublishRequest(Subject(m.GetChannel(), m.GetSubtopic()), reply, data); err != nil {
		return fmt.Errorf("publishing message to stream %s: %w", Stream, err)
	}
	return nil
}

// IsNoResponders reports whether msg, an answer to Send, says that no stream received it.
func IsNoResponders(msg *nats.Msg) bool {
	return len(msg.Data) == 0 && msg.Header.Get("Status") == "503"
}

// decodeAckFast decodes exactly {"stream":"<name>","seq":<n>} with a plain ASCII name.
func decodeAckFast(b []byte) (*jetstream.PubAck, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"stream":"`))
	if !ok {
		return nil, false
	}
	name, rest, ok := bytes.Cut(rest, []byte(`"`))
	if !ok {
		return nil, false
	}
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, false
		}
	}
	digits, ok := bytes.CutPrefix(rest, []byte(`,"seq":`))
	if !ok {
		return nil, false
	}
	digits, ok = bytes.CutSuffix(digits, []byte("}"))
	if !ok || len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		return nil, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	seq, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return nil, false
	}
	stream := Stream
	if string(name) != Stream {
		stream = string(name)
	}
	return &jetstream.PubAck{Stream: stream, Sequence: seq}, true
}
