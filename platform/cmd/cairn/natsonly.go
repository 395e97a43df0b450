package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cairn-iot/cairn/platform/natsd"
	"github.com/cairn-iot/cairn/platform/service"
)

// runNATSOnly serves the embedded NATS alone, with no Cairn service on it: nothing creates,
// changes or writes a stream, so an operator can back the data up or restore it with the
// NATS CLI (see the README, growing a single node into a cluster). HTTP answers the health
// checks only; /health/ready is 200 once JetStream serves.
func runNATSOnly(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.NATSURL != "" {
		return errors.New("-nats-only runs the embedded NATS: it cannot be used with -nats-url")
	}
	if cfg.NATSListen == "" {
		return errors.New("-nats-only needs -nats-listen host:port: without it no client could reach the embedded NATS")
	}
	nopts := cfg.NATS
	nopts.DataDir, nopts.Listen = cfg.DataDir, cfg.NATSListen
	s, err := natsd.Start(nopts)
	if err != nil {
		return err
	}
	defer s.Shutdown()
	log.Info("embedded NATS only: no service runs", "url", s.ClientURL())
	p := service.Process{Name: "cairn", HTTPAddr: cfg.HTTPAddr, Log: log}
	p.Setup = func(ctx context.Context, waiting func(string)) ([]service.Component, error) {
		for {
			ok, why := s.JetStreamReady()
			if ok {
				log.Info("ready: JetStream serves")
				return nil, nil
			}
			waiting(why)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("stopped while %s", why)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return p.Run(ctx)
}
