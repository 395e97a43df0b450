package loadgen

import (
	"context"
	"errors"
	"fmt"
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
// in which a broker acknowledges them (MQTT 4.6).
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
		for f := range pending {
			if err := wait(f.tok, ackWait); err != nil {
				rec.fail(fmt.Errorf("MQTT publish not acknowledged: %w", err))
			} else {
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

var errTimeout = errors.New("timed out")

// wait waits at most d for tok, and returns its error or errTimeout.
func wait(tok paho.Token, d time.Duration) error {
	select {
	case <-tok.Done():
		return tok.Error()
	default:
	}
	if !tok.WaitTimeout(d) {
		return fmt.Errorf("no answer within %s: %w", d, errTimeout)
	}
	return tok.Error()
}

// mqttOptions are the options of one load connection as the thing, to p's MQTT (or, with
// TLS, MQTTS) listener, tuned for a generator that shares the cores with the broker: no
// ordering of incoming messages (there are none), a memory store, no reconnection, no write
// deadlines.
func (p *Platform) mqttOptions(clientID string) *paho.ClientOptions {
	scheme := "tcp://"
	if p.TLS != nil {
		scheme = "ssl://"
	}
	return paho.NewClientOptions().AddBroker(scheme + p.MQTTAddr).SetTLSConfig(p.TLS).
		SetClientID(clientID).SetUsername(p.ThingID).SetPassword(p.ThingKey).
		SetProtocolVersion(4).SetCleanSession(true).SetStore(paho.NewMemoryStore()).
		SetOrderMatters(false).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(connectWait).SetKeepAlive(60 * time.Second)
}
