package mqttadapter

import (
	"context"
	"fmt"
	"net"

	"github.com/cairn-iot/cairn/platform/messages"
	"github.com/cairn-iot/cairn/platform/service"
)

// DefaultAddr is the MQTT listen address of the mqtt service and the all-in-one.
const DefaultAddr = ":1883"

// Component returns the MQTT adapter as a service component listening for MQTT on addr
// (host:port; port 0 picks one, reported to listening if it is not nil). It listens when the
// component is built, so a taken port fails the process before it starts.
func Component(addr string, listening func(net.Addr), opts ...Option) service.New {
	return func(ctx context.Context, d service.Deps) (service.Component, error) {
		a, err := New(messages.BusAuthorizer(d.Bus.Conn), d.Bus.JS, append([]Option{WithLogger(d.Log)}, opts...)...)
		if err != nil {
			return service.Component{}, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return service.Component{}, fmt.Errorf("listening for MQTT on %s: %w", addr, err)
		}
		run := func(ctx context.Context) error {
			if err := a.Start(ctx, ln); err != nil {
				ln.Close()
				return err
			}
			d.Log.Info("listening", "mqtt", ln.Addr().String())
			if listening != nil {
				listening(ln.Addr())
			}
			<-ctx.Done()
			return a.Close()
		}
		return service.Component{Name: "mqtt", Run: run}, nil
	}
}
