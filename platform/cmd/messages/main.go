// Command messages runs Cairn's message reader alone (see package messages) against an
// external NATS: GET /channels/<id>/messages?offset=&limit= on :9011, NATS at
// nats://127.0.0.1:4222 by default. The messages themselves are stored by JetStream (stream
// MESSAGES) when an adapter publishes them. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "messages",
		What:     "the messages service",
		HTTPAddr: ":9011",
		Flags:    func(*flag.FlagSet) func() service.New { return messages.Component },
	}, args, getenv, stderr)
}
