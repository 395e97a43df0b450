// Command cairn is the all-in-one Cairn: every service in one process, on one embedded NATS
// (JetStream files in the data directory) or on an external one, with one HTTP listener
// carrying every path (users, tokens, things, channels, messages, bootstrap) and the MQTT
// listener.
//
//	cairn                          HTTP :8080, MQTT :1883, data in ./cairn-data
//	cairn -data-dir /var/lib/cairn (CAIRN_DATA_DIR: images use /var/lib/cairn)
//	cairn -nats-listen 127.0.0.1:4222   also let other processes use the embedded NATS
//	cairn -nats-url nats://nats:4222    use an external NATS; no data directory then
//	cairn -nats-only -nats-listen 127.0.0.1:4222   the embedded NATS alone, for backups
//
// Three (or five) cairn processes form one JetStream cluster by themselves, each node serving
// the whole HTTP and MQTT API (see the README's operations section):
//
//	cairn -server-name n1 -cluster-listen 10.0.0.1:6222 \
//	      -cluster-routes nats://10.0.0.2:6222,nats://10.0.0.3:6222 -replicas 3
//
// -sync sets when JetStream writes its files to disk: "always" (an acknowledged message
// survives a power loss), a duration such as 1s (a power loss of every node at once can lose
// the last second), or NATS's default of 2 minutes. With -replicas 3 an acknowledged message
// is on a majority of the nodes, so losing one machine loses nothing at any setting.
//
// Every flag has a CAIRN_* variable (-h lists them); an explicit flag wins over it. Data
// survives restarts and upgrades: see package bus for the data format version.
package main

import (
	"cmp"
	"context"
	"flag"
	"io"
	_ "time/tzdata" // images are FROM scratch: time zone data compiled in

	_ "golang.org/x/crypto/x509roots/fallback" // and CA roots

	"github.com/cairn-iot/cairn/platform/bootstrap"
	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/httpadapter"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/platform/natsd"
	"github.com/cairn-iot/cairn/platform/service"
	"github.com/cairn-iot/cairn/platform/things"
	"github.com/cairn-iot/cairn/platform/users"
)

func main() { service.Main(run) }

// config is the all-in-one's configuration.
type config struct {
	service.Common
	// DataDir holds the embedded NATS's JetStream files.
	DataDir string
	// NATSListen, if set, is where the embedded NATS accepts network clients.
	NATSListen string
	// NATS configures the embedded server beyond DataDir and NATSListen: cluster and sync.
	NATS natsd.Options
	// MQTTAddr is the MQTT listen address.
	MQTTAddr string
	// BcryptCost is the cost of new password hashes (and of the bootstrap's external keys).
	BcryptCost int
	// BootstrapKey is the secure bootstrap's AES-256 key; nil turns it off.
	BootstrapKey bootstrap.KeyFlag
	// NATSOnly runs the embedded NATS alone, for backups and restores.
	NATSOnly bool
	// MQTT are the MQTT listeners' options (-mqtts-addr, -plaintext, -ws-path).
	MQTT []mqttadapter.Option
}

// components are the services the all-in-one runs, in start order, one line each.
func components(cfg config) []service.New {
	return []service.New{
		users.Component(users.WithCost(cfg.BcryptCost)),
		things.Component(),
		httpadapter.Component(),
		messages.Component(),
		mqttadapter.Component(cfg.MQTTAddr, nil, append(cfg.MQTT, mqttInstance(cfg)...)...),
		bootstrap.Component(bootstrap.WithEncryptionKey(cfg.BootstrapKey), bootstrap.WithCost(cfg.BcryptCost)),
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("cairn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.AddFlags(fs, ":8080", "")
	fs.StringVar(&cfg.DataDir, "data-dir", "./cairn-data", "data directory of the embedded NATS (ignored with -nats-url)")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "", "host:port where the embedded NATS also accepts clients; empty: in-process only")
	addNATSFlags(fs, &cfg.NATS)
	fs.StringVar(&cfg.MQTTAddr, "mqtt-addr", ":1883", "MQTT listen address")
	mqttOpts := mqttadapter.AddListenFlags(fs)
	fs.IntVar(&cfg.BcryptCost, "bcrypt-cost", users.DefaultCost, "bcrypt cost of new password hashes (4 to 31)")
	fs.Var(&cfg.BootstrapKey, "bootstrap-key", "hex AES-256 key of the secure bootstrap (64 hex digits); empty: secure bootstrap off")
	fs.BoolVar(&cfg.NATSOnly, "nats-only", false, "run the embedded NATS alone, no service, for a backup or restore with the NATS CLI (needs -nats-listen)")
	if err := service.Parse(fs, args, getenv); err != nil {
		return err
	}
	cfg.MQTT = mqttOpts()
	log := service.NewLogger(stderr, cfg.LogLevel, "cairn")
	if cfg.NATSOnly {
		return runNATSOnly(ctx, cfg, log)
	}
	opts := bus.Options{URL: cfg.NATSURL, Replicas: cfg.Replicas}
	if cfg.NATSURL == "" {
		nopts := cfg.NATS
		nopts.DataDir, nopts.Listen = cfg.DataDir, cfg.NATSListen
		s, err := natsd.Start(nopts)
		if err != nil {
			return err
		}
		opts.Server = s // the bus shuts it down
	}
	return service.Run(ctx, service.Config{
		Name:        "cairn",
		HTTPAddr:    cfg.HTTPAddr,
		Bus:         opts,
		Log:         log,
		TLS:         cfg.TLS,
		MetricsAddr: cfg.MetricsAddr,
	}, components(cfg)...)
}

// mqttInstance names the MQTT adapter after the embedded server (-server-name, "cairn" by
// default), which is stable across restarts and distinct on every node of a cluster: its
// persistent sessions are stored under that name. With an external NATS the adapter keeps
// its default, the host name.
func mqttInstance(cfg config) []mqttadapter.Option {
	if cfg.NATSURL != "" {
		return nil
	}
	return []mqttadapter.Option{mqttadapter.WithInstance(cmp.Or(cfg.NATS.ServerName, "cairn"))}
}
