package mqttadapter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

// DefaultAddr is the MQTT listen address of the mqtt service and the all-in-one.
const DefaultAddr = ":1883"

// listenConfig says where the component listens besides addr.
type listenConfig struct {
	tlsAddr   string // MQTTS, when the process has TLS
	noPlain   bool   // no plaintext MQTT listener
	wsPath    string // MQTT over WebSocket on the HTTP listener; "" none
	listening func(name string, addr net.Addr)
}

// WithTLSAddr sets the MQTTS listen address (default DefaultTLSAddr), used when the process
// serves TLS (-tls-cert, -tls-key).
func WithTLSAddr(addr string) Option {
	return func(a *Adapter) error { a.listen.tlsAddr = addr; return nil }
}

// WithoutPlaintext turns the plaintext MQTT listener off (-plaintext=false).
func WithoutPlaintext() Option {
	return func(a *Adapter) error { a.listen.noPlain = true; return nil }
}

// WithWebSocketPath serves MQTT over WebSocket at path on the HTTP listener; "" turns it off.
func WithWebSocketPath(path string) Option {
	return func(a *Adapter) error {
		if path != "" && !strings.HasPrefix(path, "/") {
			return fmt.Errorf("WebSocket path %q: want an absolute path such as %s", path, DefaultWSPath)
		}
		a.listen.wsPath = path
		return nil
	}
}

// WithListening reports each listener's name and address once it serves (tests listen on
// port 0).
func WithListening(f func(name string, addr net.Addr)) Option {
	return func(a *Adapter) error { a.listen.listening = f; return nil }
}

// Component returns the MQTT adapter as a service component listening for MQTT on addr
// (host:port; port 0 picks one, reported to listening if it is not nil), on MQTTS when the
// process has TLS, and on WebSocket at the configured path of the HTTP listener. It listens
// when the component is built, so a taken port fails the process before it starts.
func Component(addr string, listening func(net.Addr), opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		a, err := New(messages.BusAuthorizer(d.Bus.Conn), d.Bus.JS, append([]Option{WithLogger(d.Log), WithTLSAddr(DefaultTLSAddr)}, opts...)...)
		if err != nil {
			return service.Component{}, err
		}
		lns, err := a.listenAll(addr, d)
		if err != nil {
			return service.Component{}, err
		}
		run := func(ctx context.Context) error {
			if err := a.Start(ctx, lns...); err != nil {
				for _, l := range lns {
					l.Close()
				}
				return err
			}
			for _, l := range lns {
				d.Log.Info("listening", l.Name, l.Addr().String())
				if listening != nil && l.Name == ListenerMQTT {
					listening(l.Addr())
				}
				if a.listen.listening != nil {
					a.listen.listening(l.Name, l.Addr())
				}
			}
			<-ctx.Done()
			return a.Close()
		}
		var routes func(*http.ServeMux)
		if p := a.listen.wsPath; p != "" {
			routes = func(mux *http.ServeMux) { mux.Handle("GET "+p, a.WebSocket()) }
		}
		return service.Component{Name: "mqtt", Routes: routes, Run: run}, nil
	}
}

// listenAll opens the TCP listeners: plaintext on addr unless turned off, MQTTS when the
// process has TLS. Having none at all (and no WebSocket) is refused.
func (a *Adapter) listenAll(addr string, d service.Deps) ([]Listener, error) {
	var lns []Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	if !a.listen.noPlain {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening for MQTT on %s: %w", addr, err)
		}
		lns = append(lns, Listener{Name: ListenerMQTT, Listener: ln})
	}
	if d.TLS != nil && a.listen.tlsAddr != "" {
		ln, err := net.Listen("tcp", a.listen.tlsAddr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listening for MQTTS on %s: %w", a.listen.tlsAddr, err)
		}
		lns = append(lns, TLSListener(ln, d.TLS.Config()))
	}
	if len(lns) == 0 && a.listen.wsPath == "" {
		return nil, errors.New("no MQTT listener left: -plaintext=false turns plaintext MQTT off, so give TLS (-tls-cert and -tls-key, for MQTTS on -mqtts-addr) or a -ws-path")
	}
	return lns, nil
}

// AddListenFlags defines -mqtts-addr, -plaintext and -ws-path on fs (for the mqtt service
// and the all-in-one); the function it returns, called once the flags are parsed, gives the
// matching options.
func AddListenFlags(fs *flag.FlagSet) func() []Option {
	tlsAddr := fs.String("mqtts-addr", DefaultTLSAddr, "MQTT over TLS listen address, used with -tls-cert and -tls-key")
	plain := fs.Bool("plaintext", true, "also serve MQTT without TLS on -mqtt-addr; -plaintext=false turns it off")
	ws := fs.String("ws-path", DefaultWSPath, "path of MQTT over WebSocket (subprotocol mqtt) on the HTTP listener; empty: off")
	return func() []Option {
		opts := []Option{WithTLSAddr(*tlsAddr), WithWebSocketPath(*ws)}
		if !*plain {
			opts = append(opts, WithoutPlaintext())
		}
		return opts
	}
}
