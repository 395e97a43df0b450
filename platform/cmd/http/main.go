// Command http runs Cairn's HTTP adapter alone (see package httpadapter) against an external
// NATS: POST /channels/<id>/messages[/<subtopic>] with `Authorization: Thing <key>` on :8008,
// NATS at nats://127.0.0.1:4222 by default. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c service.Common
	c.AddFlags(fs, ":8008", "nats://127.0.0.1:4222")
	maxPayload := fs.Int64("max-payload", messages.DefaultMaxPayload, "largest accepted message payload in bytes; bigger ones get 413")
	if err := service.Parse(fs, args, getenv); err != nil {
		return err
	}
	if c.NATSURL == "" {
		return errors.New("-nats-url is empty: the http adapter runs against an external NATS; give its URL, or run the all-in-one cairn")
	}
	log := service.NewLogger(stderr, c.LogLevel, "http")
	return service.Run(ctx, service.Config{
		Name:     "http",
		HTTPAddr: c.HTTPAddr,
		Bus:      bus.Options{URL: c.NATSURL},
		Log:      log,
	}, httpadapter.Component(httpadapter.WithMaxPayload(*maxPayload)))
}
