package messages_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

func TestReadAPI(t *testing.T) {
	b := bustest.New(t)
	pub := messages.NewPublisher(b.JS)
	put := func(channel, subtopic string, payload []byte) {
		t.Helper()
		if _, err := pub.Publish(context.Background(), &messagingv1.Message{
			Channel: channel, Subtopic: subtopic, Publisher: mt.Thing1, Protocol: "mqtt", Payload: payload, Created: 7,
		}, messages.NewID()); err != nil {
			t.Fatal(err)
		}
	}
	put(mt.Channel1, "", []byte("m0"))
	put(mt.Channel2, "", []byte("other channel"))
	put(mt.Channel1, "a.b", []byte("m1"))
	put(mt.Channel1, "", []byte{0xff, 0x00})
	put(mt.Channel1, "", []byte(`{"t":1}`))
	// A message on a channel whose id starts like chan-1 must not be counted.
	put(mt.Channel1+"x", "", []byte("lookalike"))

	srv := httptest.NewServer(messages.NewService(mt.Authorizer{}, messages.NewReader(b.JS), nil).Handler())
	defer srv.Close()

	rec := func(subtopic, payload, encoding string) messages.Record {
		return messages.Record{Channel: mt.Channel1, Subtopic: subtopic, Publisher: mt.Thing1, Protocol: "mqtt", Payload: payload, Encoding: encoding, Created: 7}
	}
	all := []messages.Record{rec("", "m0", ""), rec("a.b", "m1", ""), rec("", "/wA=", "base64"), rec("", `{"t":1}`, "")}
	tests := []struct {
		name, query, auth, channel string
		want                       int
		page                       *messages.Page
	}{
		{name: "owner, defaults", auth: "Bearer " + mt.Token, want: 200, page: &messages.Page{Total: 4, Limit: 10, Messages: all}},
		{name: "connected thing, paged", query: "?offset=1&limit=2", auth: "Thing " + mt.Key1, want: 200, page: &messages.Page{Total: 4, Offset: 1, Limit: 2, Messages: all[1:3]}},
		{name: "offset past the end", query: "?offset=9", auth: "Thing " + mt.Key1, want: 200, page: &messages.Page{Total: 4, Offset: 9, Limit: 10, Messages: []messages.Record{}}},
		{name: "limit 0", query: "?limit=0", auth: "Thing " + mt.Key1, want: 200, page: &messages.Page{Total: 4, Messages: []messages.Record{}}},
		{name: "no credential", want: 401},
		{name: "wrong token", auth: "Bearer nope", want: 401},
		{name: "wrong key", auth: "Thing nope", want: 401},
		{name: "thing not connected", auth: "Thing " + mt.Key2, want: 403},
		{name: "unknown channel", auth: "Bearer " + mt.Token, channel: mt.NoChannel, want: 404},
		{name: "bad offset", query: "?offset=-1", auth: "Bearer " + mt.Token, want: 400},
		{name: "bad limit", query: "?limit=x", auth: "Bearer " + mt.Token, want: 400},
		{name: "limit too large", query: "?limit=101", auth: "Bearer " + mt.Token, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channel := tt.channel
			if channel == "" {
				channel = mt.Channel1
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/channels/"+channel+"/messages"+tt.query, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d", req.URL, resp.StatusCode, tt.want)
			}
			if tt.page == nil {
				return
			}
			var got messages.Page
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*tt.page, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", req.URL, diff)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	tests := []struct {
		topic             string
		filter            bool
		channel, subtopic string
		ok                bool
	}{
		{topic: "channels/c/messages", channel: "c", ok: true},
		{topic: "channels/c/messages/a/b", channel: "c", subtopic: "a.b", ok: true},
		{topic: "channels/c/messages/a.b"},
		{topic: "channels/c/messages/", channel: "c", subtopic: "/", ok: true},
		{topic: "channels/c/messages//a", channel: "c", subtopic: "/.a", ok: true},
		{topic: "channels/c/messages/a//b/", channel: "c", subtopic: "a./.b./", ok: true},
		{topic: "channels/c/messages//+", filter: true, channel: "c", ok: true},
		{topic: "channels/c/messages/+"},
		{topic: "channels/c/messages/+", filter: true, channel: "c", ok: true},
		{topic: "channels/c/messages/#", filter: true, channel: "c", ok: true},
		{topic: "channels/c/messages/#/a", filter: true},
		{topic: "channels/+/messages", filter: true},
		{topic: "channels/#", filter: true},
		{topic: "channels/c/other"},
		{topic: "$SYS/broker", filter: true},
	}
	for _, tt := range tests {
		channel, subtopic, err := messages.ParseTopic(tt.topic, tt.filter)
		if (err == nil) != tt.ok || channel != tt.channel || subtopic != tt.subtopic {
			t.Errorf("ParseTopic(%q, %v) = %q, %q, %v, want %q, %q, ok %v", tt.topic, tt.filter, channel, subtopic, err, tt.channel, tt.subtopic, tt.ok)
		}
		if tt.ok && !tt.filter {
			if got := messages.Topic(channel, subtopic); got != tt.topic {
				t.Errorf("Topic(%q, %q) = %q, want %q", channel, subtopic, got, tt.topic)
			}
			s := messages.Subject(channel, subtopic)
			c, st, err := messages.ParseSubject(s)
			if err != nil || c != channel || st != subtopic {
				t.Errorf("ParseSubject(%q) = %q, %q, %v, want %q, %q", s, c, st, err, channel, subtopic)
			}
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"channels/c/messages/a/b", "channels/c/messages/#", "x"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, topic string, filter bool) {
		channel, subtopic, err := messages.ParseTopic(topic, filter)
		if err != nil || filter {
			return
		}
		if got := messages.Topic(channel, subtopic); got != topic {
			t.Errorf("Topic(ParseTopic(%q)) = %q", topic, got)
		}
	})
}
