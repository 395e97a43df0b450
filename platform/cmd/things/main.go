// Command things runs Cairn's things service alone (see package things) against an external
// NATS: HTTP on :9000, NATS at nats://127.0.0.1:4222 by default. Flags and their CAIRN_*
// variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/things"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "things",
		What:     "the things service",
		HTTPAddr: ":9000",
		Flags:    func(*flag.FlagSet) func() service.New { return things.Component },
	}, args, getenv, stderr)
}
