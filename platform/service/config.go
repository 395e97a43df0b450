// Package service is the skeleton every Cairn binary shares: configuration from flags and
// CAIRN_* environment variables, JSON structured logs (log/slog), one HTTP server carrying
// the components' routes and GET /health, and a clean shutdown on SIGINT or SIGTERM (the
// context is cancelled, HTTP servers drained, components stopped, NATS drained).
//
// # Configuration
//
// Every flag -some-name has the environment variable CAIRN_SOME_NAME. The variable sets the
// flag's default; a flag given explicitly on the command line wins over it. This is the
// container convention (images set variables, an operator overrides one with a flag).
//
// # Components
//
// A process runs a list of Components; each contributes HTTP routes, background work, or
// both. A separate service binary runs one; the all-in-one cairn runs them all on one HTTP
// listener and one bus.
package service

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cairn-iot/cairn/platform/tlsfiles"
)

// EnvName returns the environment variable of the flag name: "nats-url" -> "CAIRN_NATS_URL".
func EnvName(flagName string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs. First every flag whose CAIRN_ variable (getenv) is non-empty
// takes that value as its default, then the command line is parsed, so an explicit flag
// wins. Usage texts name the variables.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := EnvName(f.Name)
		f.Usage += " (env " + env + ")"
		if err != nil {
			return
		}
		if v := getenv(env); v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s=%q is not a valid value for -%s: %w", env, v, f.Name, serr)
			}
		}
	})
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %s takes flags only (see -h)", fs.Args(), fs.Name())
	}
	return nil
}

// Common is the configuration every service binary has.
type Common struct {
	// HTTPAddr is the HTTP listen address (-http-addr, CAIRN_HTTP_ADDR).
	HTTPAddr string
	// NATSURL is the external NATS (-nats-url, CAIRN_NATS_URL).
	NATSURL string
	// LogLevel is the minimum level logged (-log-level, CAIRN_LOG_LEVEL).
	LogLevel slog.Level
	// Replicas is the replica count of the streams and buckets (-replicas, CAIRN_REPLICAS).
	Replicas int
	// TLS names the PEM files of HTTPS (and MQTTS), and of the things' client CA
	// (-tls-cert, -tls-key, -tls-client-ca).
	TLS tlsfiles.Files
	// MetricsAddr, if set, serves /metrics on a listener of its own instead of the HTTP
	// one (-metrics-addr).
	MetricsAddr string
}

// AddFlags defines the common flags on fs, with httpAddr and natsURL as defaults.
func (c *Common) AddFlags(fs *flag.FlagSet, httpAddr, natsURL string) {
	fs.StringVar(&c.HTTPAddr, "http-addr", httpAddr, "HTTP listen address")
	fs.StringVar(&c.NATSURL, "nats-url", natsURL, "NATS server URL, comma-separated for a cluster")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "minimum log level: debug, info, warn or error")
	fs.IntVar(&c.Replicas, "replicas", 1, "copies the NATS cluster keeps of every stream and bucket (1 to the number of servers); fewer found are raised, more kept")
	fs.StringVar(&c.TLS.Cert, "tls-cert", "", "PEM certificate (chain) of HTTPS and MQTTS, reloaded when the file changes; with -tls-key, -http-addr serves HTTPS")
	fs.StringVar(&c.TLS.Key, "tls-key", "", "PEM private key of -tls-cert")
	fs.StringVar(&c.TLS.ClientCA, "tls-client-ca", "", "PEM CA of the things' client certificates (Subject CN = thing id); empty: no client certificates")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "listen address of /metrics (Prometheus); empty: /metrics on the HTTP listener")
}
