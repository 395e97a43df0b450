package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestClusterFaults runs three all-in-one nodes as one JetStream cluster with -replicas 3
// and publishes clusterLoad messages over HTTP and MQTT to whichever nodes are up while,
// one after the other: (a) a follower is SIGKILLed and restarted, (b) the MESSAGES leader
// is SIGKILLed and restarted, (c) a node is SIGKILLed, its data directory deleted, and it
// rejoins empty, (d) a node is restarted while another is down. Readers check all along
// that no read answers 200 with fewer messages than were acknowledged before it began, or
// a short page. Per fault it prints acknowledged, stored, lost, duplicated, wrong reads and
// the seconds with failed publishes; lost, duplicated and wrong reads must be 0.
func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster under load")
	}
	c := startCluster(t, buildCairn(t))
	cl := setUpLoad(t, c, c.nodes[0].httpAddr, c.nodes[0].httpAddr)
	cl.checkFanOut(t)
	cl.run(t, []string{"(a) follower SIGKILLed, restarted", "(b) MESSAGES leader SIGKILLed, restarted",
		"(c) data directory deleted, node rejoins empty", "(d) node restarted while another is down"}, []func(){
		func() { f := (c.leader() + 1) % 3; c.kill(f); cl.progress(t, 300); c.restart(f) },
		func() { l := c.leader(); c.kill(l); cl.progress(t, 300); c.restart(l) },
		func() {
			f := (c.leader() + 2) % 3
			c.kill(f)
			if err := os.RemoveAll(c.nodes[f].data); err != nil {
				t.Fatal(err)
			}
			cl.progress(t, 300)
			c.restart(f)
		},
		func() {
			down := (c.leader() + 1) % 3
			other := (down + 1) % 3
			c.kill(down)
			c.up[other].Store(false)
			c.nodes[other].stop()
			c.serve(other) // starts and becomes ready with one node of three down
			cl.progress(t, 300)
			c.restart(down)
		},
	})
}

// setUpLoad creates a user (on users), a thing and a channel it is connected to (on things)
// and returns a client publishing as that thing to c.
func setUpLoad(t *testing.T, c target, users, things string) *clusterClient {
	u := &platform{t: t, httpAddr: users}
	u.must(201, "POST", "/users", "", `{"email":"cluster@example.com","password":"a-long-secret"}`, nil)
	var tok struct{ Token string }
	u.must(201, "POST", "/tokens", "", `{"email":"cluster@example.com","password":"a-long-secret"}`, &tok)
	bearer := "Bearer " + tok.Token
	th := &platform{t: t, httpAddr: things}
	var sensor, ch thing
	th.must(200, "GET", th.must(201, "POST", "/things", bearer, `{"name":"sensor"}`, nil).Get("Location"), bearer, "", &sensor)
	th.must(200, "GET", th.must(201, "POST", "/channels", bearer, `{"name":"cluster"}`, nil).Get("Location"), bearer, "", &ch)
	th.must(200, "PUT", "/channels/"+ch.ID+"/things/"+sensor.ID, bearer, "", nil)
	return &clusterClient{c: c, thing: sensor, channel: ch.ID, bearer: bearer, http: &http.Client{Timeout: 10 * time.Second},
		topic: "channels/" + ch.ID + "/messages"}
}

// run publishes clusterLoad messages while injecting faults one after the other, then
// verifies and prints what each fault cost.
func (cl *clusterClient) run(t *testing.T, names []string, faults []func()) {
	cl.windows = []*window{{name: "no fault"}}
	for _, n := range names {
		cl.windows = append(cl.windows, &window{name: n})
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterCap)
	defer cancel()
	cl.led = map[string]attempt{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Go(func() { cl.publishHTTP(ctx, stop, w) })
		wg.Go(func() { cl.publishMQTT(ctx, stop, w, cl.topic) })
	}
	wg.Go(func() { cl.readAll(ctx, stop) })
	for i, f := range faults {
		for cl.acked.Load() < int64((i+1)*clusterLoad/len(cl.windows)-100) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cl.cur.Store(int32(i + 1))
		t.Logf("%s, after %d acknowledged", cl.windows[i+1].name, cl.acked.Load())
		f()
	}
	for cl.acked.Load() < clusterLoad && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the load did not complete within %s: %d acknowledged", clusterCap, cl.acked.Load())
	}
	cl.verify(t)
}

type attempt struct {
	ok  bool
	win int32
}

// clusterClient publishes to and reads from the cluster, recording every attempt.
type clusterClient struct {
	c       target
	thing   thing
	channel string
	bearer  string
	topic   string
	http    *http.Client
	cur     atomic.Int32 // the window in effect
	windows []*window
	mu      sync.Mutex
	led     map[string]attempt
	acked   atomic.Int64
	perProt [2]atomic.Int64
}

func (cl *clusterClient) record(id string, ok bool, proto int) {
	w := cl.cur.Load()
	cl.mu.Lock()
	cl.led[id] = attempt{ok, w}
	cl.mu.Unlock()
	cl.windows[w].attempted.Add(1)
	if ok {
		cl.acked.Add(1)
		cl.perProt[proto].Add(1)
		cl.windows[w].acked.Add(1)
	} else {
		cl.windows[w].failed()
	}
}

// progress waits until n more messages are acknowledged (the cluster works while degraded).
func (cl *clusterClient) progress(t *testing.T, n int64) {
	want := cl.acked.Load() + n
	if cap := int64(int(cl.cur.Load()+1) * clusterLoad / len(cl.windows)); want > cap {
		want = cap
	}
	deadline := time.Now().Add(60 * time.Second)
	for cl.acked.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d messages acknowledged within 60s of fault %s: %d acknowledged (%d HTTP, %d MQTT)",
				n, cl.windows[cl.cur.Load()].name, cl.acked.Load(), cl.perProt[0].Load(), cl.perProt[1].Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// paused holds publishers back once the window in effect has its share of the load, so that
// clusterLoad messages are spread over the faults however long each takes.
func (cl *clusterClient) paused() bool {
	if cl.acked.Load() < int64(int(cl.cur.Load()+1)*clusterLoad/len(cl.windows)) {
		return false
	}
	time.Sleep(20 * time.Millisecond)
	return true
}

func done(ctx context.Context, stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

func (cl *clusterClient) publishHTTP(ctx context.Context, stop chan struct{}, w int) {
	for n := 0; !done(ctx, stop); n++ {
		if cl.paused() {
			continue
		}
		id := fmt.Sprintf("h%d-%d", w, n)
		req, _ := http.NewRequest("POST", "http://"+cl.c.pubHTTP(n+w)+"/channels/"+cl.channel+"/messages", strings.NewReader(`{"id":"`+id+`"}`))
		req.Header.Set("Authorization", "Thing "+cl.thing.Key)
		resp, err := cl.http.Do(req)
		ok := false
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == http.StatusAccepted
		}
		cl.record(id, ok, 0)
		if !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (cl *clusterClient) publishMQTT(ctx context.Context, stop chan struct{}, w int, topic string) {
	var mc paho.Client
	for n := 0; !done(ctx, stop); n++ {
		if cl.paused() {
			continue
		}
		if mc == nil || !mc.IsConnectionOpen() {
			if mc != nil {
				mc.Disconnect(0)
			}
			mc = paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + cl.c.mqtt(n+w+1)).
				SetClientID(fmt.Sprintf("cluster-pub-%d", w)).SetUsername(cl.thing.ID).SetPassword(cl.thing.Key).
				SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second))
			if tk := mc.Connect(); !tk.WaitTimeout(5*time.Second) || tk.Error() != nil {
				mc = nil
				cl.windows[cl.cur.Load()].failed()
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		id := fmt.Sprintf("m%d-%d", w, n)
		tk := mc.Publish(topic+"/load", 1, false, `{"id":"`+id+`"}`)
		ok := tk.WaitTimeout(10*time.Second) && tk.Error() == nil
		cl.record(id, ok, 1)
		if !ok {
			mc.Disconnect(0)
			mc = nil
		}
	}
	if mc != nil {
		mc.Disconnect(100)
	}
}

// page reads one page of the channel from node p: status, total, messages' ids.
func (cl *clusterClient) page(addr string, offset, limit int) (int, int, []string, error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/channels/%s/messages?offset=%d&limit=%d", addr, cl.channel, offset, limit), nil)
	req.Header.Set("Authorization", cl.bearer)
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	defer resp.Body.Close()
	var pg struct {
		Total    int
		Messages []struct{ Payload string }
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0, nil, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&pg); err != nil {
		return resp.StatusCode, 0, nil, err
	}
	var ids []string
	for _, m := range pg.Messages {
		var body struct{ ID string }
		json.Unmarshal([]byte(m.Payload), &body)
		ids = append(ids, body.ID)
	}
	return resp.StatusCode, pg.Total, ids, nil
}

// readAll reads from every up node in turn until stop: a 200 whose total is below the
// messages acknowledged before the read began, or whose page is short, is a wrong read.
func (cl *clusterClient) readAll(ctx context.Context, stop chan struct{}) {
	for n := 0; !done(ctx, stop); n++ {
		before := int(cl.acked.Load())
		p := cl.c.readHTTP(n)
		offset := max(before-100, 0)
		if n%2 == 0 {
			offset = 0
		}
		code, total, ids, err := cl.page(p, offset, 100)
		if err == nil && code == http.StatusOK && (total < before || len(ids) != min(100, max(total-offset, 0))) {
			cl.windows[cl.cur.Load()].wrong(fmt.Sprintf("read from %s at offset %d: total %d, %d messages, %d acknowledged before the read", p, offset, total, len(ids), before))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
