package messages

import (
	"context"

	"github.com/cairn-iot/cairn/platform/service"
)

// Component returns the messages reader as a service component: GET
// /channels/{id}/messages on the process's HTTP listener, reading the bus's MESSAGES stream.
func Component() service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		s := NewService(BusAuthorizer(d.Bus.Conn), NewReader(d.Bus.JS), d.Log)
		return service.Component{Name: "messages", Routes: s.Register}, nil
	}
}
