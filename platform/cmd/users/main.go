// Command users runs Cairn's users service alone (see package users) against an external
// NATS: HTTP on :9002, NATS at nats://127.0.0.1:4222 by default. Flags and their CAIRN_*
// variables: -h.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/users"
)

func main() { service.Main(run) }

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c service.Common
	c.AddFlags(fs, ":9002", "nats://127.0.0.1:4222")
	cost := fs.Int("bcrypt-cost", users.DefaultCost, "bcrypt cost of new password hashes (4 to 31)")
	if err := service.Parse(fs, args, getenv); err != nil {
		return err
	}
	if c.NATSURL == "" {
		return errors.New("-nats-url is empty: the users service runs against an external NATS; give its URL, or run the all-in-one cairn")
	}
	log := service.NewLogger(stderr, c.LogLevel, "users")
	return service.Run(ctx, service.Config{
		Name:     "users",
		HTTPAddr: c.HTTPAddr,
		Bus:      bus.Options{URL: c.NATSURL},
		Log:      log,
	}, users.Component(users.WithCost(*cost)))
}
