package httpadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// recorder is a Publisher that keeps what it is given.
type recorder struct{ got []*messagingv1.Message }

func (r *recorder) Publish(_ context.Context, m *messagingv1.Message, _ string) (uint64, error) {
	r.got = append(r.got, m)
	return uint64(len(r.got)), nil
}

// FuzzPublish: the path, the credential and the body of a publish come from the network.
// Whatever they are, the adapter answers one of its documented statuses (never a 5xx, never
// a panic), publishes nothing unless it answers 202, and publishes exactly the body, once, on
// a channel the thing is connected to, under a subtopic that makes a valid topic.
func FuzzPublish(f *testing.F) {
	for _, s := range []struct{ path, auth, body string }{
		{mt.Channel1 + "/messages", "Thing " + mt.Key1, "hello"},
		{mt.Channel1 + "/messages/room/temp", "thing " + mt.Key1, "21.5"},
		{mt.Channel3 + "/messages/a/b/c", "Thing " + mt.Key1, `{"v":1}`},
		{mt.Channel2 + "/messages", "Thing " + mt.Key1, "x"},
		{mt.Channel1 + "/messages", "Thing " + mt.Key2, "x"},
		{mt.Channel1 + "/messages", "Bearer " + mt.Token, "x"},
		{mt.Channel1 + "/messages/a/%2B", "Thing " + mt.Key1, "x"},
		{mt.Channel1 + "/messages/a.b", "Thing " + mt.Key1, "x"},
		{mt.Channel1 + "/messages/../../x", "Thing " + mt.Key1, "x"},
		{"a*b/messages", "Thing " + mt.Key1, "x"},
		{mt.Channel1 + "/messages", "Thing " + mt.Key1, strings.Repeat("x", 65)},
	} {
		f.Add(s.path, s.auth, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, path, auth string, body []byte) {
		u, err := url.Parse("http://cairn/channels/" + path)
		if err != nil {
			return
		}
		pub := &recorder{}
		a, err := httpadapter.New(mt.Authorizer{}, pub, httpadapter.WithMaxPayload(64))
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case 202, 400, 401, 403, 404, 405, 413:
		case 301, 307: // http.ServeMux redirects an unclean path (.., //) to its clean form
		default:
			t.Fatalf("POST %s as %q = %d %s, want 202, 400, 401, 403, 404, 405, 413 or a redirect", u, auth, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusAccepted {
			if len(pub.got) != 0 {
				t.Fatalf("POST %s as %q = %d, but %d messages were published", u, auth, rec.Code, len(pub.got))
			}
			return
		}
		if len(pub.got) != 1 {
			t.Fatalf("POST %s = 202 and %d messages published, want 1", u, len(pub.got))
		}
		m := pub.got[0]
		if ch := m.GetChannel(); m.GetPublisher() != mt.Thing1 || (ch != mt.Channel1 && ch != mt.Channel3) {
			t.Errorf("POST %s as %q published by %q on %q, want %s on a channel it is connected to", u, auth, m.GetPublisher(), ch, mt.Thing1)
		}
		if string(m.GetPayload()) != string(body) {
			t.Errorf("POST %s published payload %q, want the body %q", u, m.GetPayload(), body)
		}
		topic := messages.Topic(m.GetChannel(), m.GetSubtopic())
		if ch, st, err := messages.ParseTopic(topic, false); err != nil || ch != m.GetChannel() || st != m.GetSubtopic() {
			t.Errorf("POST %s published subtopic %q: topic %q parses as %q, %q, %v", u, m.GetSubtopic(), topic, ch, st, err)
		}
	})
}
