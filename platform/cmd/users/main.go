// Command users runs Cairn's users service alone (see package users) against an external
// NATS: HTTP on :9002, NATS at nats://127.0.0.1:4222 by default. Flags and their CAIRN_*
// variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/users"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "users",
		What:     "the users service",
		HTTPAddr: ":9002",
		Flags: func(fs *flag.FlagSet) func() service.New {
			cost := fs.Int("bcrypt-cost", users.DefaultCost, "bcrypt cost of new password hashes (4 to 31)")
			return func() service.New { return users.Component(users.WithCost(*cost)) }
		},
	}, args, getenv, stderr)
}
