package mqttadapter

import (
	"crypto/tls"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/cairn-iot/cairn/platform/tlsfiles"
	thingsv1 "github.com/cairn-iot/cairn/proto/cairn/things/v1"
)

// A thing authenticates with its id as the MQTT username and its key as the password, or,
// over TLS with a client CA (MQTTS, or WebSocket over HTTPS), with a client certificate
// whose Subject Common Name is its id: the username may then be left out, and if it is sent
// it must be that id; no password is needed. A certificate and a password together must
// belong to the same thing.

// thing is the identity of an authenticated connection, and its will.
type thing struct {
	id, key string // key is empty for a thing identified by its certificate
	will    *mqtt.Will
}

// request is an access question on behalf of t.
func (t thing) request(channel string, action thingsv1.Action) *thingsv1.AccessRequest {
	r := &thingsv1.AccessRequest{ThingId: t.id, Channel: channel, Action: action}
	if t.key != "" {
		r.Key = t.key
	} else {
		r.VouchedThingId = t.id
	}
	return r
}

// claimed returns the thing a CONNECT claims to be: from the connection's verified client
// certificate and from the username and password. ok is false when it claims nothing
// usable (no credentials, or a username that is not the certificate's thing).
func claimed(cl *mqtt.Client, pk packets.Packet) (t thing, ok bool) {
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if cert := certThing(cl.Net.Conn); cert != "" {
		if user != "" && user != cert {
			return thing{}, false
		}
		return thing{id: cert, key: pass}, true
	}
	if user == "" || pass == "" {
		return thing{}, false
	}
	return thing{id: user, key: pass}, true
}

// tlsStater is a connection that can tell its TLS state (the WebSocket connections).
type tlsStater interface{ tlsState() *tls.ConnectionState }

// certThing returns the thing named by c's verified client certificate, or "".
func certThing(c net.Conn) string {
	if v, ok := c.(*v3Conn); ok {
		c = v.Conn
	}
	switch c := c.(type) {
	case *tls.Conn:
		st := c.ConnectionState()
		return tlsfiles.ThingID(&st)
	case tlsStater:
		return tlsfiles.ThingID(c.tlsState())
	}
	return ""
}
