package service

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/cairn-iot/cairn/platform/bus"
)

// DefaultNATSURL is where a standalone service looks for NATS unless told otherwise.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// Standalone describes a service binary that runs one component alone against an external
// NATS (the all-in-one cairn embeds NATS instead and does not use it).
type Standalone struct {
	// Name names the binary, its flag set, its logs and its /health answer: "things".
	Name string
	// What names the service in errors: "the things service".
	What string
	// HTTPAddr is the default HTTP listen address (-http-addr): ":9000".
	HTTPAddr string
	// Flags defines the service's own flags on fs and returns a function that, called once
	// the flags are parsed, builds the component from them.
	Flags func(fs *flag.FlagSet) func() New
}

// RunStandalone is the run function of a standalone service's main: it reads the common
// and the service's own flags (and their CAIRN_* variables), refuses an empty NATS URL, and
// runs the component until ctx ends.
func RunStandalone(ctx context.Context, s Standalone, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Common
	c.AddFlags(fs, s.HTTPAddr, DefaultNATSURL)
	component := s.Flags(fs)
	if err := Parse(fs, args, getenv); err != nil {
		return err
	}
	if c.NATSURL == "" {
		return errors.New("-nats-url is empty: " + s.What + " runs against an external NATS; give its URL, or run the all-in-one cairn")
	}
	return Run(ctx, Config{
		Name:        s.Name,
		HTTPAddr:    c.HTTPAddr,
		Bus:         bus.Options{URL: c.NATSURL, Replicas: c.Replicas},
		Log:         NewLogger(stderr, c.LogLevel, s.Name),
		TLS:         c.TLS,
		MetricsAddr: c.MetricsAddr,
	}, component())
}
