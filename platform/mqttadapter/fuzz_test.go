package mqttadapter_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/messages"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
)

// FuzzPublishTopic: MQTT topics come from the network. Thing 1 publishes with QoS 1 on a
// fuzzed topic through the real broker; the message must be stored exactly when the topic
// parses (messages.ParseTopic) to a channel the thing is connected to, under that channel
// and subtopic, and otherwise nothing may be stored anywhere.
func FuzzPublishTopic(f *testing.F) {
	for _, s := range []string{
		"channels/" + mt.Channel1 + "/messages",
		"channels/" + mt.Channel1 + "/messages/room/temp",
		"channels/" + mt.Channel3 + "/messages/a",
		"channels/" + mt.Channel2 + "/messages",
		"channels/" + mt.NoChannel + "/messages",
		"channels/" + mt.Channel1 + "/messages/+",
		"channels/" + mt.Channel1 + "/messages/#",
		"channels/" + mt.Channel1 + "/messages/a.b",
		"channels/" + mt.Channel1 + "/messages//x",
		"channels/" + mt.Channel1 + "/messages/",
		"channels/" + mt.Channel1,
		"channels/" + mt.Channel1 + "x/messages",
		"$SYS/broker",
		"devices/" + mt.Channel1,
		"",
	} {
		f.Add(s)
	}
	b := bustest.New(f)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS)
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Start(context.Background(), mqttadapter.Listener{Name: mqttadapter.ListenerMQTT, Listener: ln}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	addr := ln.Addr().String()
	stored := func(t *testing.T) uint64 {
		s, err := b.JS.Stream(context.Background(), bus.MessagesStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	var c paho.Client
	n := 0
	f.Fuzz(func(t *testing.T, topic string) {
		n++
		if c == nil || !c.IsConnectionOpen() {
			if c != nil {
				c.Disconnect(0)
			}
			c = paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("fuzz-%d", n)).
				SetUsername(mt.Thing1).SetPassword(mt.Key1).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("CONNECT thing 1: %v", tok.Error())
			}
		}
		before := stored(t)
		payload := fmt.Sprintf("fuzz-%d", n)
		tok := c.Publish(topic, 1, false, payload)
		// The broker answers no PUBACK to a client's publish on $SYS/...: give up on the
		// answer after a while and reconnect (the check below still runs).
		if !tok.WaitTimeout(2 * time.Second) {
			c.Disconnect(0)
			c = nil
		}
		after := stored(t)
		ch, sub, perr := messages.ParseTopic(topic, false)
		allowed := perr == nil && (ch == mt.Channel1 || ch == mt.Channel3)
		switch {
		case !allowed && after != before:
			t.Fatalf("PUBLISH %q (parse: %q, %q, %v) stored %d messages, want none", topic, ch, sub, perr, after-before)
		case allowed && tok.Error() == nil && after != before+1:
			t.Fatalf("PUBLISH %q acknowledged, stored %d messages, want 1", topic, after-before)
		case allowed && after == before+1:
			r := messages.NewReader(b.JS)
			page, err := r.Read(context.Background(), ch, 0, 1)
			if err == nil && page.Total > 0 {
				page, err = r.Read(context.Background(), ch, page.Total-1, 1) // the newest
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range page.Messages {
				if m.Payload == payload {
					found = m.Subtopic == sub && m.Publisher == mt.Thing1
				}
			}
			if !found {
				t.Fatalf("PUBLISH %q: message %s not stored on %s with subtopic %q", topic, payload, ch, sub)
			}
		}
	})
}
