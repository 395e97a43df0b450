package mqttadapter

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Listener names; each is also the protocol label of the messages it carries in the metrics.
const (
	ListenerMQTT  = "mqtt"  // MQTT over TCP, plaintext (1883)
	ListenerMQTTS = "mqtts" // MQTT over TLS (8883)
	ListenerWS    = "ws"    // MQTT over WebSocket on the HTTP listener
	ListenerWSS   = "wss"   // the same over HTTPS
)

// DefaultTLSAddr is the MQTTS listen address when TLS is configured.
const DefaultTLSAddr = ":8883"

// DefaultWSPath is the path of MQTT over WebSocket on the HTTP listener.
const DefaultWSPath = "/mqtt"

// Listener is a listener the broker serves, and its name.
type Listener struct {
	Name string
	net.Listener
}

// TLSListener wraps ln in TLS with cfg as the MQTTS listener.
func TLSListener(ln net.Listener, cfg *tls.Config) Listener {
	return Listener{Name: ListenerMQTTS, Listener: tls.NewListener(ln, cfg)}
}

func (a *Adapter) addListeners(lns []Listener) error {
	for _, l := range lns {
		if err := a.server.AddListener(listeners.NewNet(l.Name, v3Listener{l.Listener})); err != nil {
			return err
		}
	}
	for _, name := range []string{ListenerWS, ListenerWSS} {
		if err := a.server.AddListener(&hubListener{id: name, done: make(chan struct{})}); err != nil {
			return err
		}
	}
	return nil
}

// hubListener stands for the WebSocket connections in the broker's listeners: the HTTP
// listener accepts them (WebSocket), and the broker closes their clients through it when
// it stops, as it does for its own listeners'.
type hubListener struct {
	id   string
	done chan struct{}
	once sync.Once
}

func (l *hubListener) Init(*slog.Logger) error     { return nil }
func (l *hubListener) Serve(listeners.EstablishFn) { <-l.done }
func (l *hubListener) ID() string                  { return l.id }
func (l *hubListener) Address() string             { return "" }
func (l *hubListener) Protocol() string            { return "ws" }
func (l *hubListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() { close(l.done) })
	closeClients(l.id)
}

// upgrader accepts WebSocket connections offering the "mqtt" subprotocol (MQTT 3.1.1 and 5
// name it so). Any origin: MQTT credentials travel in CONNECT, never in cookies.
var upgrader = websocket.Upgrader{
	Subprotocols:    []string{"mqtt"},
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
}

// WebSocket is the handler of MQTT over WebSocket: mount it on a GET route of the HTTP
// listener (DefaultWSPath). A client must ask for the "mqtt" subprotocol; it then speaks
// MQTT as on the TCP listeners, with the same authentication and access rules, and over
// HTTPS with a client CA, a client certificate identifies a thing as on MQTTS.
func (a *Adapter) WebSocket() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.serving.Load() {
			http.Error(w, "the MQTT broker is not serving yet; retry", http.StatusServiceUnavailable)
			return
		}
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered with the reason
		}
		if ws.Subprotocol() != "mqtt" {
			ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, `want the "mqtt" subprotocol`), time.Now().Add(time.Second))
			ws.Close()
			return
		}
		name := ListenerWS
		if r.TLS != nil {
			name = ListenerWSS
		}
		c := &wsConn{ws: ws, tls: r.TLS}
		if err := a.server.EstablishConnection(name, &v3Conn{Conn: c}); err != nil && !errors.Is(err, io.EOF) {
			a.log.Debug("MQTT over WebSocket ended", "remote", r.RemoteAddr, "error", err)
		}
	})
}

// wsConn is a WebSocket connection as the byte stream MQTT needs: binary messages in both
// directions, a packet possibly spread over messages.
type wsConn struct {
	ws  *websocket.Conn
	tls *tls.ConnectionState
	r   io.Reader // the message being read
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errors.New("MQTT over WebSocket takes binary messages only")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error                       { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *wsConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}
func (c *wsConn) tlsState() *tls.ConnectionState { return c.tls }

// gauges reports the adapter's authenticated connections by listener and the
// subscriptions of its connected clients' sessions, for the metrics.
func (a *Adapter) gauges() (map[string]int, int) {
	conns := map[string]int{}
	a.mu.Lock()
	clients := make([]*mqtt.Client, 0, len(a.things))
	for cl := range a.things {
		conns[cl.Net.Listener]++
		clients = append(clients, cl)
	}
	a.mu.Unlock()
	subs := 0
	for _, cl := range clients {
		subs += cl.State.Subscriptions.Len()
	}
	return conns, subs
}
