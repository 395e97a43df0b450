// Command mqtt runs Cairn's MQTT adapter alone (see package mqttadapter) against an external
// NATS: MQTT 3.1.1 and 5 on :1883, GET /health on :8009, NATS at nats://127.0.0.1:4222 by
// default. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "mqtt",
		What:     "the mqtt adapter",
		HTTPAddr: ":8009",
		Flags: func(fs *flag.FlagSet) func() service.New {
			mqttAddr := fs.String("mqtt-addr", mqttadapter.DefaultAddr, "MQTT listen address")
			instance := fs.String("instance", "", "name of this instance in connect/disconnect events (default: the host name)")
			maxPayload := fs.Int("max-payload", messages.DefaultMaxPayload, "largest accepted message payload in bytes; bigger publishes are refused")
			listen := mqttadapter.AddListenFlags(fs)
			return func() service.New {
				opts := append(listen(), mqttadapter.WithMaxPayload(*maxPayload))
				if *instance != "" {
					opts = append(opts, mqttadapter.WithInstance(*instance))
				}
				return mqttadapter.Component(*mqttAddr, nil, opts...)
			}
		},
	}, args, getenv, stderr)
}
