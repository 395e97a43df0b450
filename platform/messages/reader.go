package messages

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

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

// Read returns up to limit messages of channel after skipping offset, oldest first, and the
// channel's total. It reads through a short-lived consumer filtered on the channel; its cost
// grows with offset+limit, not with the size of the stream.
func (r *Reader) Read(ctx context.Context, channel string, offset, limit uint64) (Page, error) {
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
			// Messages counted at creation were removed since (stream limits): the page
			// ends here.
			break
		}
	}
	return page, nil
}
