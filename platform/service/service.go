package service

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/metrics"
	"github.com/cairn-iot/cairn/platform/tlsfiles"
	"github.com/cairn-iot/cairn/platform/version"
)

// ShutdownTimeout bounds how long in-flight HTTP requests may take to finish on shutdown.
const ShutdownTimeout = 20 * time.Second

// Deps is what a process hands each component.
type Deps struct {
	// Log is the component's logger.
	Log *slog.Logger
	// Bus is the process's NATS connection and JetStream.
	Bus *bus.Bus
	// TLS is the process's certificate and client CA, nil without TLS: HTTP is HTTPS then,
	// and the MQTT adapter listens with TLS too.
	TLS *tlsfiles.Reloader
}

// Component is one part of a process.
type Component struct {
	// Name names the component in logs.
	Name string
	// Routes, if set, adds the component's handlers to the process's HTTP mux (Go 1.22
	// patterns such as "POST /channels/{id}/messages").
	Routes func(mux *http.ServeMux)
	// Run, if set, does the component's background work until ctx is cancelled, then
	// returns nil; any other return stops the process.
	Run func(ctx context.Context) error
}

// New builds a component; the components of a process are a list of these.
type New func(ctx context.Context, d Deps) (Component, error)

// Process is one running binary: its name, HTTP listener and components.
type Process struct {
	// Name is the service name reported by /health and in logs.
	Name string
	// HTTPAddr is the address of the one HTTP listener.
	HTTPAddr string
	// Log is the process's logger.
	Log *slog.Logger
	// Components run in the process.
	Components []Component
	// Listening, if set, is called with the HTTP listener's address once it serves (tests
	// use it with HTTPAddr "127.0.0.1:0").
	Listening func(addr net.Addr)
	// Setup, if set, builds more components once HTTP accepts; until it returns, the
	// process is live but not ready (GET /health/ready answers 503 with the reason Setup
	// last passed to waiting, other paths 503 too). An error stops the process.
	Setup func(ctx context.Context, waiting func(reason string)) ([]Component, error)
	// TLS, if set, makes the HTTP listener HTTPS.
	TLS *tlsfiles.Reloader
	// MetricsAddr, if set, serves /metrics there instead of on the HTTP listener.
	MetricsAddr string
}

// Run serves HTTP (the components' routes and GET /health) and runs the components until
// ctx is cancelled or one of them fails; then it drains the HTTP server and waits for every
// component to stop. It returns nil after a clean stop.
func (p Process) Run(ctx context.Context) error {
	mux := http.NewServeMux()
	ready := &readiness{waiting: "starting"}
	p.healthRoutes(mux, ready)
	ln, err := net.Listen("tcp", p.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening for HTTP on %s: %w", p.HTTPAddr, err)
	}
	if p.TLS != nil {
		ln = tls.NewListener(ln, p.TLS.Config())
	}
	metricsSrv, err := p.serveMetrics(mux)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(p.Log, gate(mux, ready)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
		// Requests in flight at shutdown finish (Shutdown drains them): their context is not
		// the process's, which is cancelled first.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("serving HTTP on %s: %w", p.HTTPAddr, err))
		}
	})
	p.Log.Info("listening", "http", ln.Addr().String(), "tls", p.TLS != nil, "version", version.Version)
	if err := p.setup(ctx, mux, ready); err != nil {
		cancel(err)
	} else if p.Listening != nil {
		p.Listening(ln.Addr())
	}
	for _, c := range p.Components {
		if c.Run == nil || ctx.Err() != nil {
			continue
		}
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", c.Name, err))
			} else if ctx.Err() == nil {
				cancel(fmt.Errorf("%s stopped by itself", c.Name))
			}
		})
	}
	<-ctx.Done()
	p.Log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer scancel()
	shutdownErr := srv.Shutdown(sctx)
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("draining HTTP: %w", shutdownErr)
	}
	return nil
}

// Health answers GET /health with {"status":"ok","service":name,"version":...,"commit":...}.
func Health(name string) http.Handler {
	body, _ := json.Marshal(map[string]string{
		"status":  "ok",
		"service": name,
		"version": version.Version,
		"commit":  version.Commit,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
	})
}

// NewLogger returns a JSON logger writing to w at level, every record tagged service=name.
func NewLogger(w io.Writer, level slog.Leveler, name string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With("service", name)
}

// Main runs run with a context cancelled on SIGINT or SIGTERM, passing the command-line
// arguments and the environment; on error it prints it to stderr and exits with status 1
// (0 for -h, whose usage the flag package has printed).
func Main(run func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection over (a WebSocket upgrade answers 101 on it itself).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// logRequests logs and counts every request. Requests that succeed are logged at debug
// level only (one line per message published would cost the HTTP adapter a fifth of its
// throughput); refusals (4xx) at info, failures (5xx) at warn.
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "none"
		}
		metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		level := slog.LevelDebug
		switch {
		case strings.HasPrefix(r.URL.Path, "/health"): // probes: a 503 while waiting is news only at debug
		case sw.status >= 500:
			level = slog.LevelWarn
		case sw.status >= 400:
			level = slog.LevelInfo
		}
		if !log.Enabled(r.Context(), level) {
			return // not even the attributes: this runs for every message published over HTTP
		}
		log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration_ms", time.Since(start).Milliseconds(), "remote", r.RemoteAddr)
	})
}

// Config describes a process for Run.
type Config struct {
	// Name is the service name (/health, logs, NATS connection name).
	Name string
	// HTTPAddr is the HTTP listen address.
	HTTPAddr string
	// Bus says which NATS to use (external URL, or embedded with a data directory).
	Bus bus.Options
	// Log is the process's logger.
	Log *slog.Logger
	// Listening, if set, is called with the HTTP address once it accepts.
	Listening func(addr net.Addr)
	// TLS names the PEM files; none, plain HTTP. Files that cannot be loaded stop Run.
	TLS tlsfiles.Files
	// MetricsAddr, if set, is where /metrics is served instead of the HTTP listener.
	MetricsAddr string
}

// Run connects to the bus, serves HTTP at once (live, not ready), waits for JetStream to
// serve (retrying with backoff, logging why: see bus.WaitReady), builds the components with
// news (in order), and runs them as one Process until ctx is cancelled or one fails; then it
// closes the bus (drained, embedded server shut down). It is the body of every Cairn main.
func Run(ctx context.Context, cfg Config, news ...New) (err error) {
	if cfg.Bus.Name == "" {
		cfg.Bus.Name = cfg.Name
	}
	if cfg.Bus.Log == nil {
		cfg.Bus.Log = cfg.Log
	}
	var reloader *tlsfiles.Reloader
	if cfg.TLS.Enabled() || cfg.TLS.ClientCA != "" {
		if reloader, err = tlsfiles.Load(cfg.TLS, cfg.Log); err != nil {
			return fmt.Errorf("TLS was asked for and cannot be served: %w", err)
		}
	}
	b, err := bus.Dial(cfg.Bus)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if u := b.ClientURL(); u != "" {
		cfg.Log.Info("embedded NATS accepts clients", "url", u)
	}
	p := Process{Name: cfg.Name, HTTPAddr: cfg.HTTPAddr, Log: cfg.Log, Listening: cfg.Listening, TLS: reloader, MetricsAddr: cfg.MetricsAddr}
	p.Setup = func(ctx context.Context, waiting func(string)) ([]Component, error) {
		waiting("waiting for JetStream: connecting")
		if err := b.WaitReady(ctx, waiting); err != nil {
			return nil, err
		}
		waiting("starting the components")
		d := Deps{Log: cfg.Log, Bus: b, TLS: reloader}
		var cs []Component
		for _, n := range news {
			// A cluster that just regained its quorum can still be electing a stream's
			// leader: a component whose JetStream calls time out is built again.
			var c Component
			err := bus.Retry(ctx, cfg.Log, "starting "+cfg.Name, func(context.Context) error {
				var err error
				c, err = n(ctx, d)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("starting %s: %w", cfg.Name, err)
			}
			cs = append(cs, c)
		}
		cfg.Log.Info("ready")
		return cs, nil
	}
	return p.Run(ctx)
}
