package bootstrap_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-iot/cairn/platform/bootstrap"
	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/things"
	"github.com/cairn-iot/cairn/platform/users"
)

// platform is a running process of real components on one bus, answering on loopback.
type platform struct {
	t    testing.TB
	bus  *bus.Bus
	base string
}

// start runs news as one process on b, on a free loopback port, until the test ends.
func start(t testing.TB, b *bus.Bus, news ...service.New) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		p := service.Process{Name: "test", HTTPAddr: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler),
			Listening: func(a net.Addr) { addr <- a }}
		for _, n := range news {
			c, err := n(ctx, service.Deps{Log: p.Log, Bus: b})
			if err != nil {
				done <- err
				return
			}
			p.Components = append(p.Components, c)
		}
		done <- p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("process stopped with %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("process did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("process did not listen within 30s")
	}
	return ""
}

// allInOne starts users, things, the HTTP adapter and bootstrap in one process, as cairn does.
func allInOne(t testing.TB, opts ...bootstrap.Option) *platform {
	b := bustest.New(t)
	opts = append([]bootstrap.Option{bootstrap.WithCost(bcrypt.MinCost)}, opts...)
	base := start(t, b, users.Component(users.WithCost(bcrypt.MinCost)), things.Component(),
		httpadapter.Component(), bootstrap.Component(opts...))
	return &platform{t: t, bus: b, base: base}
}

// send sends method path with body and the Authorization header auth, and returns the
// status and the body of the answer.
func (p *platform) send(method, path, auth, body string) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// do is send that checks the status and decodes the answer into out (if not nil).
func (p *platform) do(want int, method, path, auth, body string, out any) {
	p.t.Helper()
	code, data := p.send(method, path, auth, body)
	if code != want {
		p.t.Fatalf("%s %s = %d %s, want %d", method, path, code, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
}

// user registers a user and returns "Bearer <token>".
func (p *platform) user(email string) string {
	p.t.Helper()
	cred := `{"email":"` + email + `","password":"correct horse battery"}`
	p.do(201, "POST", "/users", "", cred, nil)
	var tok struct{ Token string }
	p.do(201, "POST", "/tokens", "", cred, &tok)
	return "Bearer " + tok.Token
}

// channel creates a channel and returns its id.
func (p *platform) channel(bearer, name string) string {
	p.t.Helper()
	var c struct{ ID string }
	p.do(201, "POST", "/channels", bearer, `{"name":"`+name+`","metadata":{"unit":"C"}}`, &c)
	return c.ID
}

// publish posts a message with the thing key and returns the status.
func (p *platform) publish(key, channel string) int {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.base+"/channels/"+channel+"/messages", strings.NewReader(`{"t":21}`))
	req.Header.Set("Authorization", "Thing "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually publishes until the status is want; the HTTP adapter's access cache follows
// the things events, so the change shows within moments. The deadline bounds it.
func (p *platform) eventually(key, channel string, want int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got := p.publish(key, channel); got != want; got = p.publish(key, channel) {
		if time.Now().After(deadline) {
			p.t.Fatalf("publishing on %s = %d, want %d within 20s", channel, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bootstrapEvents returns the fields of every events.bootstrap event, the timestamps checked
// and removed.
func (p *platform) bootstrapEvents() []map[string]string {
	p.t.Helper()
	evs, err := events.All(context.Background(), p.bus.JS, events.BootstrapSubject)
	if err != nil {
		p.t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range evs {
		ts := e.Fields["timestamp"]
		if len(ts) != 10 || strings.Trim(ts, "0123456789") != "" {
			p.t.Errorf("event %v: timestamp %q is not Unix seconds", e.Fields, ts)
		}
		delete(e.Fields, "timestamp")
		out = append(out, e.Fields)
	}
	return out
}
