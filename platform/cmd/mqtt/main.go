// Command mqtt runs Cairn's MQTT adapter alone (see package mqttadapter) against an external
// NATS: MQTT 3.1.1 and 5 on :1883, GET /health on :8009, NATS at nats://127.0.0.1:4222 by
// default. Flags and their CAIRN_* variables: -h.
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
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mqtt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c service.Common
	c.AddFlags(fs, ":8009", "nats://127.0.0.1:4222")
	mqttAddr := fs.String("mqtt-addr", mqttadapter.DefaultAddr, "MQTT listen address")
	instance := fs.String("instance", "", "name of this instance in connect/disconnect events (default: the host name)")
	maxPayload := fs.Int("max-payload", messages.DefaultMaxPayload, "largest accepted message payload in bytes; bigger publishes are refused")
	if err := service.Parse(fs, args, getenv); err != nil {
		return err
	}
	if c.NATSURL == "" {
		return errors.New("-nats-url is empty: the mqtt adapter runs against an external NATS; give its URL, or run the all-in-one cairn")
	}
	log := service.NewLogger(stderr, c.LogLevel, "mqtt")
	opts := []mqttadapter.Option{mqttadapter.WithMaxPayload(*maxPayload)}
	if *instance != "" {
		opts = append(opts, mqttadapter.WithInstance(*instance))
	}
	return service.Run(ctx, service.Config{
		Name:     "mqtt",
		HTTPAddr: c.HTTPAddr,
		Bus:      bus.Options{URL: c.NATSURL},
		Log:      log,
	}, mqttadapter.Component(*mqttAddr, nil, opts...))
}
