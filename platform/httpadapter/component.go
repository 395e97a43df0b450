package httpadapter

import (
	"context"

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

// Component returns the HTTP adapter as a service component: its routes on the process's
// HTTP listener, access asked and messages published on the process's bus.
func Component(opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		a, err := New(messages.BusAuthorizer(d.Bus.Conn), messages.NewPublisher(d.Bus.JS),
			append([]Option{WithLogger(d.Log)}, opts...)...)
		if err != nil {
			return service.Component{}, err
		}
		return service.Component{Name: "http", Routes: a.Register}, nil
	}
}
