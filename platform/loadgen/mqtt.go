package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ackWait bounds the wait for one PUBACK, and connectWait for a CONNACK.
const (
	ackWait     = 30 * time.Second
	connectWait = 10 * time.Second
)

// MQTT publishes over MQTT 3.1.1 with paho, QoS 1, with l.Workers connections each keeping
// up to l.Window publishes in flight: every PUBLISH is one message, counted when its token
// completes (the PUBACK arrived), its latency taken then. A run's connections have clean
// sessions, a memory store and no automatic reconnection: a lost connection ends its
// worker, and its publishes in flight count as failed.
func (p *Platform) MQTT(ctx context.Context, l Load) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, l.Cap)
	defer cancel()
	ch := p.Channels["mqtt"]
	topic := "channels/" + ch + "/messages/bench"
	var next atomic.Int64
	rec := &recorder{}
	var wg sync.WaitGroup
	cpu0 := p.cpu()
	start := time.Now()
	for w := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lost atomic.Bool
			opts := p.mqttOptions(fmt.Sprintf("bench-%d", w)).SetConnectionLostHandler(func(_ paho.Client, err error) {
				lost.Store(true)
				rec.note(fmt.Errorf("MQTT connection lost: %w", err))
			})
			c := paho.NewClient(opts)
			if err := wait(c.Connect(), connectWait); err != nil {
				rec.fail(fmt.Errorf("connecting to MQTT: %w", err))
				return
			}
			defer c.Disconnect(250)
			publish := func() (paho.Token, bool) {
				n := int(next.Add(1))
				if ctx.Err() != nil || lost.Load() || n > l.Messages {
					return nil, false
				}
				return c.Publish(topic, 1, false, Payload(n, l.Size)), true
			}
			rec.add(window(publish, max(l.Window, 1), rec))
		}()
	}
	wg.Wait()
	return p.finish(start, cpu0, ch, rec, l)
}

// window calls publish until it returns false, keeping up to size of its tokens
// outstanding, and returns the latencies of those that completed without error (the
// others are failures in rec). Tokens are awaited in the order of their publishes, the order
// in which a broker acknowledges them (MQTT 4.6), each at most ackWait.
func window(publish func() (paho.Token, bool), size int, rec *recorder) []time.Duration {
	type inflight struct {
		tok paho.Token
		t0  time.Time
	}
	pending := make(chan inflight, size)
	slots := make(chan struct{}, size)
	done := make(chan []time.Duration)
	go func() {
		var lat []time.Duration
		timer := time.NewTimer(ackWait) // one timer, reset only for tokens not yet done
		defer timer.Stop()
		for f := range pending {
			select {
			case <-f.tok.Done():
			default:
				timer.Reset(ackWait)
				select {
				case <-f.tok.Done():
				case <-timer.C:
				}
			}
			switch {
			case !isDone(f.tok):
				rec.fail(fmt.Errorf("MQTT publish not acknowledged within %s: %w", ackWait, errTimeout))
			case f.tok.Error() != nil:
				rec.fail(fmt.Errorf("MQTT publish not acknowledged: %w", f.tok.Error()))
			default:
				lat = append(lat, time.Since(f.t0))
			}
			<-slots
		}
		done <- lat
	}()
	for {
		slots <- struct{}{}
		t0 := time.Now()
		tok, ok := publish()
		if !ok {
			break
		}
		pending <- inflight{tok, t0}
	}
	close(pending)
	return <-done
}

func isDone(tok paho.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

var errTimeout = errors.New("timed out")

// wait waits at most d for tok, and returns its error or errTimeout.
func wait(tok paho.Token, d time.Duration) error {
	if !tok.WaitTimeout(d) {
		return fmt.Errorf("no answer within %s: %w", d, errTimeout)
	}
	return tok.Error()
}

// mqttOptions are the options of one load connection as the thing, to p's MQTT (or, with
// TLS, MQTTS) listener, tuned for a generator that shares the cores with the broker: no
// ordering of incoming messages (there are none), a memory store, no reconnection, no write
// deadlines, and reads buffered (see dialMQTT).
func (p *Platform) mqttOptions(clientID string) *paho.ClientOptions {
	scheme := "tcp://"
	if p.TLS != nil {
		scheme = "ssl://"
	}
	return paho.NewClientOptions().AddBroker(scheme + p.MQTTAddr).SetCustomOpenConnectionFn(p.dialMQTT).
		SetClientID(clientID).SetUsername(p.ThingID).SetPassword(p.ThingKey).
		SetProtocolVersion(4).SetCleanSession(true).SetStore(paho.NewMemoryStore()).
		SetOrderMatters(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(connectWait).SetKeepAlive(60 * time.Second)
}

// dialMQTT opens a load connection for paho: TCP to p.MQTTAddr, with TLS (p.TLS, the
// handshake done) when p serves it, reads buffered. paho reads each packet from the
// connection in pieces (its first byte, its length byte by byte, then the rest), a system
// call each on a bare connection; through a bufio.Reader, the PUBACKs that arrived together
// take one.
func (p *Platform) dialMQTT(*url.URL, paho.ClientOptions) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", p.MQTTAddr, connectWait)
	if err != nil || p.TLS == nil {
		return bufferedConn(c, err)
	}
	tc := tls.Client(c, p.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), connectWait)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return bufferedConn(tc, nil)
}

// readBufConn is a connection whose reads go through a bufio.Reader.
type readBufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readBufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func bufferedConn(c net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	return &readBufConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}
