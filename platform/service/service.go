package service

import (
	"context"
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
	"sync"
	"syscall"
	"time"

	"github.com/cairn-iot/cairn/platform/bus"
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
	// Listening, if set, is called with the HTTP listener's address once it accepts (tests
	// use it with HTTPAddr "127.0.0.1:0").
	Listening func(addr net.Addr)
}

// Run serves HTTP (the components' routes and GET /health) and runs the components until
// ctx is cancelled or one of them fails; then it drains the HTTP server and waits for every
// component to stop. It returns nil after a clean stop.
func (p Process) Run(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("GET /health", Health(p.Name))
	for _, c := range p.Components {
		if c.Routes != nil {
			c.Routes(mux)
		}
	}
	ln, err := net.Listen("tcp", p.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening for HTTP on %s: %w", p.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           logRequests(p.Log, mux),
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
	for _, c := range p.Components {
		if c.Run == nil {
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
	p.Log.Info("listening", "http", ln.Addr().String(), "version", version.Version)
	if p.Listening != nil {
		p.Listening(ln.Addr())
	}
	<-ctx.Done()
	p.Log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer scancel()
	shutdownErr := srv.Shutdown(sctx)
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

func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if r.URL.Path == "/health" {
			level = slog.LevelDebug
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
}

// Run opens the bus, builds the components with news (in order), runs them as one Process
// until ctx is cancelled or one fails, and then closes the bus (drained, embedded server
// shut down). It is the body of every Cairn main.
func Run(ctx context.Context, cfg Config, news ...New) (err error) {
	if cfg.Bus.Name == "" {
		cfg.Bus.Name = cfg.Name
	}
	b, err := bus.Open(ctx, cfg.Bus)
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
	d := Deps{Log: cfg.Log, Bus: b}
	p := Process{Name: cfg.Name, HTTPAddr: cfg.HTTPAddr, Log: cfg.Log, Listening: cfg.Listening}
	for _, n := range news {
		c, err := n(ctx, d)
		if err != nil {
			return fmt.Errorf("starting %s: %w", cfg.Name, err)
		}
		p.Components = append(p.Components, c)
	}
	return p.Run(ctx)
}
