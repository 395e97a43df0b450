package httpadapter

import (
	"context"

	"github.com/cairn-iot/cairn/platform/access"
	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

// Component returns the HTTP adapter as a service component: its routes on the process's
// HTTP listener, access asked through an access.Cache in front of the things service (the
// cache follows the things events from before the first request on) and messages published
// on the process's bus.
func Component(opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		a, err := New(nil, messages.NewPublisher(d.Bus.JS), append([]Option{WithLogger(d.Log)}, opts...)...)
		if err != nil {
			return service.Component{}, err
		}
		cache, err := access.NewCache(messages.BusAuthorizer(d.Bus.Conn), a.cacheOpts...)
		if err != nil {
			return service.Component{}, err
		}
		a.auth = cache
		stop, err := cache.Follow(ctx, d.Bus.JS)
		if err != nil {
			return service.Component{}, err
		}
		run := func(ctx context.Context) error {
			<-ctx.Done()
			stop()
			return nil
		}
		return service.Component{Name: "http", Routes: a.Register, Run: run}, nil
	}
}
