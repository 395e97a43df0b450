package mqttadapter

import (
	"net"
	"sync"
)

// MQTT 3.1.1 has no DISCONNECT from server to client: a server that ends a 3.1.1 connection
// just closes it (MQTT-3.14). The broker writes a DISCONNECT whatever the version in some
// paths (a refused publish, a session taken over), so every connection goes through v3Conn,
// which learns the protocol level from the client's CONNECT and drops the DISCONNECT packets
// written to a 3.1.1 (or 3.1) client. The connection is closed just the same.

// v3Listener wraps the connections a listener accepts in v3Conn.
type v3Listener struct{ net.Listener }

func (l v3Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &v3Conn{Conn: c}, nil
}

// v3Conn is a server-side MQTT connection that drops DISCONNECT packets sent to clients of
// protocol level below 5.
type v3Conn struct {
	net.Conn
	mu    sync.Mutex
	head  []byte // the first bytes the client sent, until the level is known
	level byte   // protocol level of the CONNECT; 0 until read
}

func (c *v3Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if c.level == 0 && n > 0 {
		c.head = append(c.head, p[:n]...)
		c.level = connectLevel(c.head)
		if c.level != 0 || len(c.head) > 64 {
			c.head = nil
		}
	}
	c.mu.Unlock()
	return n, err
}

func (c *v3Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	level := c.level
	c.mu.Unlock()
	if level == 0 || level >= 5 {
		return c.Conn.Write(p)
	}
	out, ok := dropDisconnects(p)
	if !ok || len(out) == len(p) {
		return c.Conn.Write(p)
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// connectLevel returns the protocol level of the CONNECT at the start of b, or 0 if b does
// not hold it yet (or is not a CONNECT).
func connectLevel(b []byte) byte {
	if len(b) == 0 || b[0]>>4 != 1 {
		return 0
	}
	i := 1
	for ; i < len(b) && i <= 4; i++ { // the remaining length: 1 to 4 bytes
		if b[i]&0x80 == 0 {
			break
		}
	}
	i++
	if i+2 > len(b) {
		return 0
	}
	nameLen := int(b[i])<<8 | int(b[i+1])
	at := i + 2 + nameLen
	if at >= len(b) {
		return 0
	}
	return b[at]
}

// dropDisconnects returns b without its DISCONNECT packets; ok is false if b is not a
// sequence of whole packets (it is then written unchanged).
func dropDisconnects(b []byte) (out []byte, ok bool) {
	out = make([]byte, 0, len(b))
	for len(b) > 0 {
		length, mul, i := 0, 1, 1
		for ; ; i++ {
			if i >= len(b) || i > 4 {
				return nil, false
			}
			length += int(b[i]&0x7f) * mul
			mul *= 128
			if b[i]&0x80 == 0 {
				break
			}
		}
		end := i + 1 + length
		if end > len(b) {
			return nil, false
		}
		if b[0]>>4 != 14 { // 14: DISCONNECT
			out = append(out, b[:end]...)
		}
		b = b[end:]
	}
	return out, true
}
