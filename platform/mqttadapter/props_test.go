package mqttadapter_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/platform/bus/bustest"
	mt "github.com/cairn-iot/cairn/platform/messages/messagestest"
	"github.com/cairn-iot/cairn/platform/mqttadapter"
	"github.com/cairn-iot/cairn/test/testenv"
)

// mosquitto runs the stock mosquitto clients against an adapter as thing 1.
type mosquitto struct {
	t          *testing.T
	a          *mqttadapter.Adapter
	host, port string
}

// sub starts mosquitto_sub -V 5 on topic, printing format for the first message; wait
// returns that line (mosquitto_sub gives up after 60 s by itself).
func (m mosquitto) sub(clientID, topic, format string) (wait func() string) {
	m.t.Helper()
	cmd := exec.Command(testenv.LookPath(m.t, "mosquitto_sub", "mosquitto-clients"), "-h", m.host, "-p", m.port, "-V", "5",
		"-i", clientID, "-u", mt.Thing1, "-P", mt.Key1, "-t", topic, "-q", "1", "-C", "1", "-W", "60", "-F", format)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !mqttadapter.Subscribed(m.a, clientID) {
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto_sub -t %s: no subscription within 20s", topic)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return func() string {
		m.t.Helper()
		if err := cmd.Wait(); err != nil {
			m.t.Fatalf("mosquitto_sub -i %s -t %s: %v (subscriptions %d, delivering %v)\n%s%s", clientID, topic, err,
				mqttadapter.Subscriptions(m.a), mqttadapter.Delivering(m.a), out.String(), errs.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return lines[len(lines)-1]
	}
}

// pub runs mosquitto_pub -V 5 with args.
func (m mosquitto) pub(args ...string) {
	m.t.Helper()
	all := append([]string{"-h", m.host, "-p", m.port, "-V", "5", "-u", mt.Thing1, "-P", mt.Key1, "-q", "1"}, args...)
	if out, err := exec.Command(testenv.LookPath(m.t, "mosquitto_pub", "mosquitto-clients"), all...).CombinedOutput(); err != nil || len(out) > 0 {
		m.t.Fatalf("mosquitto_pub %v: %v %s", args, err, out)
	}
}

func newMosquitto(t *testing.T) mosquitto {
	b := bustest.New(t)
	a, err := mqttadapter.New(mt.Authorizer{}, b.JS, mqttadapter.WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(serve(t, a), ":")
	return mosquitto{t: t, a: a, host: host, port: port}
}

// TestProperties: the MQTT 5 properties a publisher sets reach a subscriber through the bus;
// a message expiry only when the publisher set one.
func TestProperties(t *testing.T) {
	m := newMosquitto(t)
	topic := "channels/" + mt.Channel1 + "/messages"
	const format = "ct=%C cd=%D exp=%E pf=%F up=%P rt=%R payload=%p"
	wait := m.sub("s1", topic, format)
	m.pub("-t", topic, "-m", "hello", "-D", "publish", "user-property", "site", "lab", "-D", "publish", "user-property", "site", "roof",
		"-D", "publish", "content-type", "text/plain", "-D", "publish", "payload-format-indicator", "1",
		"-D", "publish", "response-topic", topic+"/reply", "-D", "publish", "correlation-data", "req-7",
		"-D", "publish", "message-expiry-interval", "3600")
	got := wait()
	for _, want := range []string{"ct=text/plain", "cd=req-7", "pf=1", "site:lab", "site:roof", "rt=" + topic + "/reply", "payload=hello"} {
		if !strings.Contains(got, want) {
			t.Errorf("mosquitto_sub printed %q, want it to contain %q", got, want)
		}
	}
	if !strings.Contains(got, "exp=3600") && !strings.Contains(got, "exp=3599") {
		t.Errorf("mosquitto_sub printed %q, want the publisher's expiry 3600 (or 3599 after a second stored)", got)
	}
	wait = m.sub("s2", topic, format)
	m.pub("-t", topic, "-m", "plain")
	if got := wait(); got != "ct= cd= exp= pf= up= rt= payload=plain" {
		t.Errorf("mosquitto_sub printed %q for a publish without properties, want none (no expiry nobody set)", got)
	}
}

// TestRequestResponse: a requester publishes with a response topic and correlation data; the
// responder reads them from the delivery and answers there; the requester gets the answer
// with its correlation data.
func TestRequestResponse(t *testing.T) {
	m := newMosquitto(t)
	requests := "channels/" + mt.Channel1 + "/messages/requests"
	replies := "channels/" + mt.Channel3 + "/messages/replies"
	waitRequest := m.sub("responder", requests, "%R %D %p")
	waitReply := m.sub("requester", replies, "%D %p")
	m.pub("-t", requests, "-m", "ping", "-D", "publish", "response-topic", replies, "-D", "publish", "correlation-data", "c-42")
	rt, rest, _ := strings.Cut(waitRequest(), " ")
	cd, payload, _ := strings.Cut(rest, " ")
	if rt != replies || cd != "c-42" || payload != "ping" {
		t.Fatalf("the responder got response topic %q, correlation %q, payload %q", rt, cd, payload)
	}
	m.pub("-t", rt, "-m", "pong", "-D", "publish", "correlation-data", cd)
	if got := waitReply(); got != "c-42 pong" {
		t.Errorf("the requester got %q, want the answer with its correlation data: c-42 pong", got)
	}
}
