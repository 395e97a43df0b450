package service

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cairn-iot/cairn/platform/metrics"
	"github.com/cairn-iot/cairn/platform/version"
)

// readiness is what a process waits for before it can serve; "" once it serves.
type readiness struct {
	mu      sync.Mutex
	waiting string
}

func (r *readiness) set(reason string) {
	r.mu.Lock()
	r.waiting = reason
	r.mu.Unlock()
}

func (r *readiness) reason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting
}

// healthRoutes adds GET /health (200 while the process runs, as before), /health/live (the
// same: for liveness probes) and /health/ready (200 once the process serves, else 503 with
// {"status":"waiting","waiting_for":...}: for readiness probes and load balancers).
func (p Process) healthRoutes(mux *http.ServeMux, ready *readiness) {
	mux.Handle("GET /health", Health(p.Name))
	mux.Handle("GET /health/live", Health(p.Name))
	ok := Health(p.Name)
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		if why := ready.reason(); why != "" {
			w.Header().Set("Retry-After", "1")
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "waiting", "service": p.Name, "waiting_for": why,
				"version": version.Version, "commit": version.Commit,
			})
			return
		}
		ok.ServeHTTP(w, r)
	})
}

// gate answers 503 with Retry-After and what the process waits for to every request but
// the health checks until the process is ready; then it is h.
func gate(h http.Handler, ready *readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := ready.reason(); why != "" && !strings.HasPrefix(r.URL.Path, "/health") && r.URL.Path != "/metrics" {
			w.Header().Set("Retry-After", "1")
			Error(w, http.StatusServiceUnavailable, "not ready, "+why+"; retry later")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// setup runs p.Setup, if any, while HTTP already answers health checks: it reports what it
// waits for through ready, then adds the components it built.
func (p *Process) setup(ctx context.Context, mux *http.ServeMux, ready *readiness) error {
	if p.Setup != nil {
		cs, err := p.Setup(ctx, ready.set)
		if err != nil {
			return err
		}
		p.Components = append(p.Components, cs...)
	}
	for _, c := range p.Components {
		if c.Routes != nil {
			c.Routes(mux)
		}
	}
	ready.set("")
	return nil
}

// serveMetrics adds GET /metrics to mux, or, with p.MetricsAddr, serves it on a listener
// of its own (plain HTTP: keep it on a private address) and returns that server.
func (p Process) serveMetrics(mux *http.ServeMux) (*http.Server, error) {
	if p.MetricsAddr == "" {
		mux.Handle("GET /metrics", metrics.Handler())
		return nil, nil
	}
	ln, err := net.Listen("tcp", p.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", p.MetricsAddr, err)
	}
	m := http.NewServeMux()
	m.Handle("GET /metrics", metrics.Handler())
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	p.Log.Info("listening", "metrics", ln.Addr().String())
	return srv, nil
}
