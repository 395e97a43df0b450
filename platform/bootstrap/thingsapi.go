package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// thingsAPI calls the things service's HTTP API with the owner's token: the bootstrap service
// creates, reads and connects things through it, so every change is checked and logged
// (events.things) by the service that owns things. Base is the things service's URL; in the
// all-in-one, the process's own mux answers in-process.
type thingsAPI struct {
	base   string
	client *http.Client
}

// errThingsAPI is an answer of the things service that the caller passes on: its status and
// its error message.
type errThingsAPI struct {
	status int
	msg    string
}

func (e *errThingsAPI) Error() string {
	return fmt.Sprintf("the things service answered %d: %s", e.status, e.msg)
}

func newThingsAPI(base string, rt http.RoundTripper) *thingsAPI {
	return &thingsAPI{
		base:   strings.TrimSuffix(base, "/"),
		client: &http.Client{Transport: rt, Timeout: 30 * time.Second},
	}
}

// call sends method path with body (JSON, or none) and token; it decodes a 2xx answer into
// out (if not nil) and turns any other into *errThingsAPI.
func (a *thingsAPI) call(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return fmt.Errorf("calling the things service: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("calling the things service at %s: %w (is it running? -things-url / CAIRN_THINGS_URL)", a.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the things service's answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return &errThingsAPI{status: resp.StatusCode, msg: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the things service's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// thing is the things service's view of a thing.
type thing struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (a *thingsAPI) createThing(ctx context.Context, token, name string) (thing, error) {
	var t thing
	err := a.call(ctx, token, http.MethodPost, "/things", map[string]string{"name": name}, &t)
	return t, err
}

func (a *thingsAPI) thing(ctx context.Context, token, id string) (thing, error) {
	var t thing
	err := a.call(ctx, token, http.MethodGet, "/things/"+id, nil, &t)
	return t, err
}

func (a *thingsAPI) removeThing(ctx context.Context, token, id string) error {
	return a.call(ctx, token, http.MethodDelete, "/things/"+id, nil, nil)
}

func (a *thingsAPI) channel(ctx context.Context, token, id string) (Channel, error) {
	var c Channel
	err := a.call(ctx, token, http.MethodGet, "/channels/"+id, nil, &c)
	return c, err
}

func (a *thingsAPI) connect(ctx context.Context, token, channel, thing string) error {
	return a.call(ctx, token, http.MethodPut, "/channels/"+channel+"/things/"+thing, nil, nil)
}

// disconnect disconnects thing from channel; not being connected is not an error.
func (a *thingsAPI) disconnect(ctx context.Context, token, channel, thing string) error {
	err := a.call(ctx, token, http.MethodDelete, "/channels/"+channel+"/things/"+thing, nil, nil)
	if e := (*errThingsAPI)(nil); errors.As(err, &e) && e.status == http.StatusNotFound && strings.Contains(e.msg, "is not connected") {
		return nil
	}
	return err
}

// muxTransport serves requests with a handler in this process: the all-in-one's things
// service, on the mux the process serves.
type muxTransport struct{ h http.Handler }

func (t muxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(w, r)
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// recorder is the http.ResponseWriter of muxTransport.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
