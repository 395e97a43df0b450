package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Payload returns message n as exactly size bytes of JSON (size >= 32).
func Payload(n, size int) []byte { return AppendPayload(nil, n, size) }

// AppendPayload appends Payload(n, size) to b without allocating beyond b's growth.
func AppendPayload(b []byte, n, size int) []byte {
	start := len(b)
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"p":"`...)
	for pad := size - (len(b) - start) - 2; pad > 0; pad-- {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// LoadResult is one protocol's run.
type LoadResult struct {
	Sent, Acked, Failed int
	// Latencies are publish-to-acknowledgement times (HTTP 202, MQTT PUBACK), acked only.
	Latencies []time.Duration
	// Publish is from the first publish to the last acknowledgement.
	Publish time.Duration
	// Stored is how many the store held at the end; StoredAt is when it reached Acked,
	// since the first publish (0 if it did not within the wait).
	Stored   int
	StoredAt time.Duration
	// FirstErr is the first failure, if any.
	FirstErr string
	// GenCPU and ServerCPU are the CPU time (user + system) the load generator (this
	// process) and the all-in-one used from the first publish until the store held every
	// message; 0 when unknown.
	GenCPU, ServerCPU time.Duration
	// BusyCPU is the CPU time every process of the machine used meanwhile (/proc/stat: all
	// but idle and iowait), so BusyCPU - GenCPU - ServerCPU is what others took; 0 if unknown.
	BusyCPU time.Duration
}

// Throughput is messages stored per second: Acked/StoredAt, or NaN-free 0 when the store did
// not catch up (then the store holds fewer than were acknowledged).
func (r LoadResult) Throughput() float64 {
	if r.StoredAt <= 0 {
		return 0
	}
	return float64(r.Acked) / r.StoredAt.Seconds()
}

// Load is a bounded publishing run: Messages in all, or until Cap has passed.
type Load struct {
	Messages int
	// Workers are keep-alive HTTP clients or MQTT connections.
	Workers int
	// Window is the QoS 1 publishes each MQTT connection keeps in flight.
	Window int
	Size   int
	Cap    time.Duration
	// StoreWait bounds the wait for the store to catch up after the last acknowledgement.
	StoreWait time.Duration
}

// recorder collects a run's latencies and failures from its workers; each worker keeps its
// latencies and adds them once, at its end.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	failed int
	first  string
}

func (r *recorder) add(lat []time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, lat...)
	r.mu.Unlock()
}

// fail counts a message that failed with err.
func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.failed++
	if r.first == "" {
		r.first = err.Error()
	}
	r.mu.Unlock()
}

// note keeps err as the first failure if there was none, counting no message (a lost
// connection: its messages in flight fail on their own).
func (r *recorder) note(err error) {
	r.mu.Lock()
	if r.first == "" {
		r.first = err.Error()
	}
	r.mu.Unlock()
}

// HTTP publishes over HTTP with l.Workers keep-alive connections (net/http's client, one
// Transport keeping up to l.Workers idle connections), one request in flight on each: every
// request is one message, answered 202 before the worker sends its next one. Bodies are
// read to the end and closed so that connections are reused.
func (p *Platform) HTTP(ctx context.Context, l Load) LoadResult {
	// The cap stops new publishes; those in flight finish (cancelling them would count the
	// bench's own stop as failures).
	capped, cancel := context.WithTimeout(ctx, l.Cap)
	defer cancel()
	ch := p.Channels["http"]
	tr := transport(p.TLS, l.Workers)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	tmpl, err := http.NewRequestWithContext(ctx, "POST", p.url("/channels/"+ch+"/messages"), nil)
	if err != nil {
		return LoadResult{Sent: 1, Failed: 1, FirstErr: err.Error()}
	}
	tmpl.Header.Set("Authorization", "Thing "+p.ThingKey)
	tmpl.Header.Set("Content-Type", "application/json")
	var next atomic.Int64
	rec := &recorder{}
	var wg sync.WaitGroup
	cpu0 := p.cpu()
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			defer func() { rec.add(lat) }()
			for capped.Err() == nil {
				n := int(next.Add(1))
				if n > l.Messages {
					return
				}
				body := Payload(n, l.Size)
				t0 := time.Now()
				if err := post(client, tmpl, body); err != nil {
					rec.fail(err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return p.finish(start, cpu0, ch, rec, l)
}

// post sends body with a shallow copy of tmpl (no body of its own) and reads the answer to
// the end, an error unless 202. The body is a new buffer each time: a RoundTripper may read
// and close a request's body after RoundTrip returns, so a buffer is not reused; in a
// *bytes.Reader, the transport writes it in one write with the request's headers.
func post(client *http.Client, tmpl *http.Request, body []byte) error {
	req := *tmpl
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := client.Do(&req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", tmpl.URL.Path, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s = %d, want 202", tmpl.URL.Path, resp.StatusCode)
	}
	if err != nil {
		return fmt.Errorf("POST %s: reading the answer: %w", tmpl.URL.Path, err)
	}
	return nil
}

// finish waits (bounded) for the store to hold every acknowledged message.
func (p *Platform) finish(start time.Time, cpu0 cpuTimes, ch string, rec *recorder, l Load) LoadResult {
	r := LoadResult{Publish: time.Since(start), Latencies: rec.lat, Acked: len(rec.lat), Failed: rec.failed,
		FirstErr: rec.first}
	r.Sent = r.Acked + r.Failed
	deadline := time.Now().Add(l.StoreWait)
	for {
		n, err := p.Stored(ch)
		if err != nil && r.FirstErr == "" {
			r.FirstErr = "reading the store: " + err.Error()
		}
		r.Stored = n
		if n >= r.Acked {
			r.StoredAt = time.Since(start)
			cpu := p.cpu()
			r.GenCPU = cpu.gen - cpu0.gen
			if cpu.server > 0 && cpu0.server > 0 {
				r.ServerCPU = cpu.server - cpu0.server
			}
			if cpu.busy > 0 && cpu0.busy > 0 {
				r.BusyCPU = cpu.busy - cpu0.busy
			}
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}
