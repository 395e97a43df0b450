package messages

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// Page is one page of a channel's stored messages, as the reader answers it.
type Page struct {
	// Total is the number of messages stored for the channel.
	Total uint64 `json:"total"`
	// Offset is the number of messages skipped, oldest first.
	Offset uint64 `json:"offset"`
	// Limit is the largest number of messages the page could hold.
	Limit uint64 `json:"limit"`
	// Messages are the stored messages, oldest first.
	Messages []Record `json:"messages"`
}

// Record is a stored message as JSON. Payload is the payload itself when it is valid UTF-8,
// and its standard base64 encoding otherwise, in which case Encoding is "base64".
type Record struct {
	Channel   string `json:"channel"`
	Subtopic  string `json:"subtopic"`
	Publisher string `json:"publisher"`
	Protocol  string `json:"protocol"`
	Payload   string `json:"payload"`
	Encoding  string `json:"encoding,omitempty"`
	// Created is the time the adapter accepted the message, in Unix nanoseconds.
	Created int64 `json:"created"`
}

// NewRecord converts a bus message to its JSON form.
func NewRecord(m *messagingv1.Message) Record {
	r := Record{
		Channel:   m.GetChannel(),
		Subtopic:  m.GetSubtopic(),
		Publisher: m.GetPublisher(),
		Protocol:  m.GetProtocol(),
		Created:   m.GetCreated(),
	}
	if utf8.Valid(m.GetPayload()) {
		r.Payload = string(m.GetPayload())
	} else {
		r.Payload = base64.StdEncoding.EncodeToString(m.GetPayload())
		r.Encoding = "base64"
	}
	return r
}

// Reader reads a channel's messages back from the MESSAGES stream, which is the store: every
// message an adapter accepted was stored there before the adapter said so.
type Reader struct {
	js jetstream.JetStream
}

// NewReader returns a Reader on js.
func NewReader(js jetstream.JetStream) *Reader { return &Reader{js: js} }

// ErrBehind is returned by Read when the replica it read from has not caught up with the
// stream's leader (right after a failover or a node's rejoin), and did not within CatchUp:
// the answer would miss acknowledged messages, so there is none. Retry shortly.
var ErrBehind = errors.New("the message store is catching up after a failover")

// CatchUp bounds how long Read waits for a lagging replica before it returns ErrBehind.
const CatchUp = 3 * time.Second

// Read returns up to limit messages of channel after skipping offset, oldest first, and the
// channel's total. It reads through a short-lived consumer filtered on the channel; its cost
// grows with offset+limit, not with the size of the stream.
//
// On a cluster the consumer may sit on a replica that lags the stream's leader; Read counts
// the channel's messages at the leader first and never answers with fewer than that, nor a
// page shorter than the count promises: it retries until the replica has caught up, for at
// most CatchUp, then returns ErrBehind. While MESSAGES elects a leader (no responders) it
// retries too.
func (r *Reader) Read(ctx context.Context, channel string, offset, limit uint64) (Page, error) {
	deadline := time.Now().Add(CatchUp)
	for {
		page, err := r.read(ctx, channel, offset, limit)
		// No responders: MESSAGES is electing a leader (seconds after a failover).
		if !errors.Is(err, ErrBehind) && !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			return page, err
		}
		select {
		case <-ctx.Done():
			return Page{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stored is the number of channel's messages according to the stream's leader, which
// answers stream info. A replica that sees no leader answers too, with what it holds
// (nats-server does, after a while without one: a node that rejoined empty, say); its
// answer names no leader, and is ErrBehind rather than a count.
func (r *Reader) stored(ctx context.Context, channel string) (uint64, error) {
	s, err := r.js.Stream(ctx, Stream)
	if err != nil {
		return 0, fmt.Errorf("reading stream %s: %w", Stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("channels."+channel+".>"))
	if err != nil {
		return 0, fmt.Errorf("counting the messages of channel %s: %w", channel, err)
	}
	if info.Cluster != nil && info.Cluster.Leader == "" {
		return 0, fmt.Errorf("%w: stream %s was counted by a replica that sees no leader", ErrBehind, Stream)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

func (r *Reader) read(ctx context.Context, channel string, offset, limit uint64) (Page, error) {
	stored, err := r.stored(ctx, channel)
	if err != nil {
		return Page{}, err
	}
	page := Page{Offset: offset, Limit: limit, Messages: []Record{}}
	cons, err := r.js.CreateConsumer(ctx, Stream, jetstream.ConsumerConfig{
		FilterSubjects:    ChannelFilters(channel),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return Page{}, fmt.Errorf("creating a reader on stream %s: %w", Stream, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.js.DeleteConsumer(ctx, Stream, cons.CachedInfo().Name)
	}()
	page.Total = cons.CachedInfo().NumPending
	if page.Total < stored {
		return Page{}, fmt.Errorf("%w: the reader's replica holds %d messages of channel %s, the leader %d", ErrBehind, page.Total, channel, stored)
	}
	if offset >= page.Total || limit == 0 {
		return page, nil
	}
	want := min(offset+limit, page.Total)
	var seen uint64
	for seen < want {
		batch := int(min(want-seen, 256))
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return Page{}, fmt.Errorf("reading stream %s: %w", Stream, err)
		}
		got := 0
		for msg := range msgs.Messages() {
			got++
			seen++
			if seen <= offset {
				continue
			}
			var m messagingv1.Message
			if err := proto.Unmarshal(msg.Data(), &m); err != nil {
				return Page{}, fmt.Errorf("decoding stored message on %s: %w", msg.Subject(), err)
			}
			page.Messages = append(page.Messages, NewRecord(&m))
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return Page{}, fmt.Errorf("reading stream %s: %w", Stream, err)
		}
		if got == 0 {
			// Counted but not delivered: the replica lost what it counted (it restarted
			// empty); MESSAGES has no limits that remove messages.
			return Page{}, fmt.Errorf("%w: the reader's replica delivered %d of the %d messages it counted", ErrBehind, seen, want)
		}
	}
	return page, nil
}
