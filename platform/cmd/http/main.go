// Command http runs Cairn's HTTP adapter alone (see package httpadapter) against an external
// NATS: POST /channels/<id>/messages[/<subtopic>] with `Authorization: Thing <key>` on :8008,
// NATS at nats://127.0.0.1:4222 by default. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "http",
		What:     "the http adapter",
		HTTPAddr: ":8008",
		Flags: func(fs *flag.FlagSet) func() service.New {
			maxPayload := fs.Int64("max-payload", messages.DefaultMaxPayload, "largest accepted message payload in bytes; bigger ones get 413")
			return func() service.New { return httpadapter.Component(httpadapter.WithMaxPayload(*maxPayload)) }
		},
	}, args, getenv, stderr)
}
