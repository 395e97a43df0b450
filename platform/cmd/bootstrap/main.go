// Command bootstrap runs Cairn's bootstrap service alone (see package bootstrap) against an
// external NATS and the things service: HTTP on :8202, NATS at nats://127.0.0.1:4222 and the
// things service at http://127.0.0.1:9000 by default. Flags and their CAIRN_* variables: -h.
package main

import (
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/bootstrap"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/users"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return service.RunStandalone(ctx, service.Standalone{
		Name:     "bootstrap",
		What:     "the bootstrap service",
		HTTPAddr: ":8202",
		Flags: func(fs *flag.FlagSet) func() service.New {
			thingsURL := fs.String("things-url", "http://127.0.0.1:9000", "URL of the things service")
			var key bootstrap.KeyFlag
			fs.Var(&key, "bootstrap-key", "hex AES-256 key of the secure bootstrap (64 hex digits); empty: secure bootstrap off")
			cost := fs.Int("bcrypt-cost", users.DefaultCost, "bcrypt cost of the external keys' hashes (4 to 31)")
			return func() service.New {
				return bootstrap.Component(bootstrap.WithThingsURL(*thingsURL), bootstrap.WithEncryptionKey(key), bootstrap.WithCost(*cost))
			}
		},
	}, args, getenv, stderr)
}
