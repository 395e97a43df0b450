package service_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/service"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		wantErr string
	}{
		{"default", nil, nil, ":9000", ""},
		{"env sets the default", map[string]string{"CAIRN_HTTP_ADDR": ":1"}, nil, ":1", ""},
		{"flag wins over env", map[string]string{"CAIRN_HTTP_ADDR": ":1"}, []string{"-http-addr", ":2"}, ":2", ""},
		{"flag alone", nil, []string{"-http-addr=:3"}, ":3", ""},
		{"bad env value", map[string]string{"CAIRN_LOG_LEVEL": "loud"}, nil, "", "CAIRN_LOG_LEVEL"},
		{"stray argument", nil, []string{"extra"}, "", "unexpected arguments"},
		{"unknown flag", nil, []string{"-nope"}, "", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var c service.Common
			c.AddFlags(fs, ":9000", "")
			err := service.Parse(fs, tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.HTTPAddr != tt.want {
				t.Fatalf("Parse(%q) HTTPAddr = %q, %v, want %q", tt.args, c.HTTPAddr, err, tt.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got, want := service.EnvName("nats-url"), "CAIRN_NATS_URL"; got != want {
		t.Errorf("EnvName(nats-url) = %q, want %q", got, want)
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name, body string
		status     int
	}{
		{"ok", `{"name":"a"}`, 0},
		{"ok trailing space", "{\"name\":\"a\"}\n ", 0},
		{"empty", ``, http.StatusBadRequest},
		{"not json", `name=a`, http.StatusBadRequest},
		{"wrong type", `{"name":1}`, http.StatusBadRequest},
		{"unknown field", `{"nom":"a"}`, http.StatusBadRequest},
		{"two objects", `{"name":"a"}{"name":"b"}`, http.StatusBadRequest},
		{"truncated", `{"name":"a"`, http.StatusBadRequest},
		{"too large", `{"name":"` + strings.Repeat("a", 100) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			var b body
			ok := service.DecodeJSON(w, r, 64, &b)
			if ok != (tt.status == 0) || (!ok && w.Code != tt.status) {
				t.Fatalf("DecodeJSON(%q) = %v, status %d, want status %d", tt.body, ok, w.Code, tt.status)
			}
			if !ok && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("DecodeJSON(%q) body = %s, want an error object", tt.body, w.Body)
			}
		})
	}
}

func TestCredential(t *testing.T) {
	tests := []struct {
		header, scheme, want string
		ok                   bool
	}{
		{"Bearer abc", "Bearer", "abc", true},
		{"bearer abc", "Bearer", "abc", true},
		{"Thing k1", "Thing", "k1", true},
		{"Thing k1", "Bearer", "", false},
		{"Bearer", "Bearer", "", false},
		{"Bearer  ", "Bearer", "", false},
		{"", "Bearer", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, ok := service.Credential(r, tt.scheme)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Credential(%q, %q) = %q, %v, want %q, %v", tt.header, tt.scheme, got, ok, tt.want, tt.ok)
		}
	}
}

// TestProcessRun serves a component's route and /health, runs its background work, and
// stops cleanly when the context is cancelled.
func TestProcessRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	stopped := make(chan struct{})
	p := service.Process{
		Name:     "test",
		HTTPAddr: "127.0.0.1:0",
		Log:      service.NewLogger(io.Discard, nil, "test"),
		Components: []service.Component{{
			Name: "hello",
			Routes: func(mux *http.ServeMux) {
				mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })
			},
			Run: func(ctx context.Context) error {
				<-ctx.Done()
				close(stopped)
				return nil
			},
		}},
		Listening: func(a net.Addr) { addrc <- a },
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/hello"); code != 200 || body != "hi" {
		t.Errorf("GET /hello = %d %q, want 200 hi", code, body)
	}
	code, body := get("/health")
	var h map[string]string
	if err := json.Unmarshal([]byte(body), &h); code != 200 || err != nil || h["status"] != "ok" || h["service"] != "test" || h["version"] == "" {
		t.Errorf("GET /health = %d %s, want 200 with status ok, service test and a version", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("GET /nope = %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	<-stopped
	if _, err := http.Get("http://" + addr.String() + "/health"); err == nil {
		t.Errorf("the HTTP server still answers after shutdown")
	}
}

// TestProcessComponentFails: a component that fails stops the process with its error.
func TestProcessComponentFails(t *testing.T) {
	p := service.Process{
		Name: "test", HTTPAddr: "127.0.0.1:0", Log: service.NewLogger(io.Discard, nil, "test"),
		Components: []service.Component{{Name: "bad", Run: func(context.Context) error { return io.ErrUnexpectedEOF }}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := p.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "bad: unexpected EOF") {
		t.Fatalf("Run = %v, want the component's error", err)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	service.WriteJSON(w, http.StatusTeapot, map[string]string{"error": "send <token> & retry"})
	if got, want := w.Body.String(), "{\"error\":\"send <token> & retry\"}\n"; got != want || w.Code != http.StatusTeapot {
		t.Errorf("WriteJSON = %d %q, want 418 %q", w.Code, got, want)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
}
