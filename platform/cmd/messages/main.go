// Command messages runs Cairn's message reader alone (see package messages) against an
// external NATS: GET /channels/<id>/messages?offset=&limit= on :9011, NATS at
// nats://127.0.0.1:4222 by default. The messages themselves are stored by JetStream (stream
// MESSAGES) when an adapter publishes them. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("messages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c service.Common
	c.AddFlags(fs, ":9011", "nats://127.0.0.1:4222")
	if err := service.Parse(fs, args, getenv); err != nil {
		return err
	}
	if c.NATSURL == "" {
		return errors.New("-nats-url is empty: the messages service runs against an external NATS; give its URL, or run the all-in-one cairn")
	}
	log := service.NewLogger(stderr, c.LogLevel, "messages")
	return service.Run(ctx, service.Config{
		Name:     "messages",
		HTTPAddr: c.HTTPAddr,
		Bus:      bus.Options{URL: c.NATSURL},
		Log:      log,
	}, messages.Component())
}
