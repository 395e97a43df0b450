package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// api does one JSON request and decodes a 2xx answer into v.
func (p *Platform) api(want int, method, path, auth, body string, v any) (http.Header, error) {
	req, err := http.NewRequest(method, p.url(path), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func (p *Platform) setup() error {
	const user = `{"email":"bench@example.com","password":"a-long-secret"}`
	if _, err := p.api(201, "POST", "/users", "", user, nil); err != nil {
		return err
	}
	var tok struct{ Token string }
	if _, err := p.api(201, "POST", "/tokens", "", user, &tok); err != nil {
		return err
	}
	p.Bearer = "Bearer " + tok.Token
	create := func(kind, name string) (id, key string, err error) {
		h, err := p.api(201, "POST", "/"+kind, p.Bearer, `{"name":"`+name+`"}`, nil)
		if err != nil {
			return "", "", err
		}
		var v struct{ ID, Key string }
		if _, err := p.api(200, "GET", h.Get("Location"), p.Bearer, "", &v); err != nil {
			return "", "", err
		}
		return v.ID, v.Key, nil
	}
	var err error
	if p.ThingID, p.ThingKey, err = create("things", "bench"); err != nil {
		return err
	}
	for _, proto := range []string{"http", "mqtt"} {
		id, _, err := create("channels", "bench-"+proto)
		if err != nil {
			return err
		}
		if _, err := p.api(200, "PUT", "/channels/"+id+"/things/"+p.ThingID, p.Bearer, "", nil); err != nil {
			return err
		}
		p.Channels[proto] = id
	}
	return nil
}

// Stored returns how many messages the store holds for channel.
func (p *Platform) Stored(channel string) (int, error) {
	var pg struct{ Total int }
	_, err := p.api(200, "GET", "/channels/"+channel+"/messages?limit=1", p.Bearer, "", &pg)
	return pg.Total, err
}

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

type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	failed int
	first  string
}

func (r *recorder) ok(d time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.failed++
	if r.first == "" {
		r.first = err.Error()
	}
	r.mu.Unlock()
}

// HTTP publishes over HTTP with l.Workers keep-alive connections, one request in flight on
// each (no pipelining): every request is one message, answered 202 before the connection's
// next request is sent. The client is a minimal HTTP/1.1 writer and response reader (see
// rawConn) rather than net/http's, because the load generator shares the machine's cores
// with the platform it measures, and net/http's client spends more CPU per request than the
// server does.
func (p *Platform) HTTP(ctx context.Context, l Load) LoadResult {
	// The cap stops new publishes; those in flight finish (cancelling them would count the
	// bench's own stop as failures).
	capped, cancel := context.WithTimeout(ctx, l.Cap)
	defer cancel()
	ch := p.Channels["http"]
	path := "/channels/" + ch + "/messages"
	var next atomic.Int64
	rec := &recorder{}
	var wg sync.WaitGroup
	cpu0 := p.cpu()
	start := time.Now()
	for range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := &rawConn{addr: p.HTTPAddr, dial: p.dial, head: "POST " + path + " HTTP/1.1\r\nHost: " + p.HTTPAddr +
				"\r\nAuthorization: Thing " + p.ThingKey + "\r\nContent-Type: application/json\r\nContent-Length: "}
			defer rc.close()
			for capped.Err() == nil {
				n := int(next.Add(1))
				if n > l.Messages {
					return
				}
				t0 := time.Now()
				code, err := rc.post(n, l.Size)
				if err != nil {
					rec.fail(fmt.Errorf("POST %s: %w", path, err))
					continue
				}
				if code != http.StatusAccepted {
					rec.fail(fmt.Errorf("POST %s = %d, want 202", path, code))
					continue
				}
				rec.ok(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return p.finish(start, cpu0, ch, rec, l)
}

// rawConn is one keep-alive HTTP/1.1 connection that posts bench messages: the request is
// written into one reused buffer, the response's status line and headers are read line by
// line and its body (refusals carry one) discarded by Content-Length. A broken connection is
// redialled for the next request. It understands exactly what a Go net/http server answers
// to a small POST, and reports anything else as an error.
type rawConn struct {
	addr string
	dial func(addr string) (net.Conn, error)
	head string // request line and headers up to "Content-Length: "
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// post sends message n (size bytes, AppendPayload) and returns the response status.
func (c *rawConn) post(n, size int) (int, error) {
	if c.conn == nil {
		conn, err := c.dial(c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 4096)
	}
	c.buf = append(c.buf[:0], c.head...)
	c.buf = strconv.AppendInt(c.buf, int64(size), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = AppendPayload(c.buf, n, size)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.buf); err != nil {
		c.close()
		return 0, err
	}
	code, keep, err := readResponse(c.r)
	if err != nil || !keep {
		c.close()
	}
	return code, err
}

// readResponse reads one HTTP/1.1 response from r and returns its status, whether the
// connection stays open, and an error for a malformed or unsupported (chunked) response.
func readResponse(r *bufio.Reader) (code int, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("reading the status line: %w", err)
	}
	// "HTTP/1.1 202 Accepted\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("status line %q is not HTTP/1.1", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("status line %q: %w", line, err)
	}
	length, keep := 0, true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("reading headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("header %q: %w", line, err)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, fmt.Errorf("header %q: the bench client reads only Content-Length bodies", line)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	if _, err := r.Discard(length); err != nil {
		return 0, false, fmt.Errorf("reading the body: %w", err)
	}
	return code, keep, nil
}

// MQTT publishes over MQTT 3.1.1, QoS 1, with l.Workers connections each keeping up to
// l.Window publishes in flight: every PUBLISH is one message, written on its own (one write
// per message, as a client library does), and counted when its PUBACK arrives. The client is
// a minimal MQTT writer and PUBACK reader (mqttConn) for the reason the HTTP load has one:
// paho's client cost more CPU per message than the broker.
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
			c, err := dialMQTT(p.dial, p.MQTTAddr, fmt.Sprintf("bench-%d", w), p.ThingID, p.ThingKey)
			if err != nil {
				rec.fail(fmt.Errorf("connecting to MQTT: %w", err))
				return
			}
			defer c.conn.Close()
			type inflight struct {
				id uint16
				t0 time.Time
			}
			window := make(chan inflight, max(l.Window, 1))
			acks := make(chan struct{})
			go func() { // PUBACKs arrive in the order of the PUBLISHes (MQTT 4.6)
				defer close(acks)
				for f := range window {
					c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
					id, err := c.readPuback()
					if err != nil {
						rec.fail(fmt.Errorf("MQTT publish not acknowledged: %w", err))
						continue
					}
					if id != f.id {
						rec.fail(fmt.Errorf("MQTT PUBACK for packet %d, want %d (out of order)", id, f.id))
						continue
					}
					rec.ok(time.Since(f.t0))
				}
			}()
			var id uint16
			for ctx.Err() == nil {
				n := int(next.Add(1))
				if n > l.Messages {
					break
				}
				if id++; id == 0 {
					id = 1
				}
				f := inflight{id, time.Now()}
				window <- f
				if err := c.publish(topic, id, n, l.Size); err != nil {
					rec.fail(fmt.Errorf("MQTT publish: %w", err))
					break
				}
			}
			close(window)
			<-acks
			c.conn.Write([]byte{0xe0, 0}) // DISCONNECT
		}()
	}
	wg.Wait()
	return p.finish(start, cpu0, ch, rec, l)
}

// mqttConn is one MQTT 3.1.1 connection that publishes bench messages at QoS 1.
type mqttConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

// appendMQTTString appends an MQTT UTF-8 string: two bytes of length, then the bytes.
func appendMQTTString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

// appendRemaining appends an MQTT remaining length (7 bits a byte, high bit: more).
func appendRemaining(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// dialMQTT connects with a clean session as user/pass and waits for a successful CONNACK.
func dialMQTT(dial func(string) (net.Conn, error), addr, clientID, user, pass string) (*mqttConn, error) {
	conn, err := dial(addr)
	if err != nil {
		return nil, err
	}
	var body []byte
	body = appendMQTTString(body, "MQTT")
	body = append(body, 4, 0xc2, 0, 60) // level 3.1.1; user, password, clean session; keep-alive 60 s
	body = appendMQTTString(body, clientID)
	body = appendMQTTString(body, user)
	body = appendMQTTString(body, pass)
	pkt := appendRemaining([]byte{0x10}, len(body))
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append(pkt, body...)); err != nil {
		conn.Close()
		return nil, err
	}
	c := &mqttConn{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	var ack [4]byte
	if _, err := io.ReadFull(c.r, ack[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0 {
		conn.Close()
		return nil, fmt.Errorf("CONNACK % x, want 20 02 xx 00 (accepted)", ack)
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// publish writes message n (size bytes, AppendPayload) as a QoS 1 PUBLISH with packet id.
func (c *mqttConn) publish(topic string, id uint16, n, size int) error {
	c.buf = c.buf[:0]
	c.buf = AppendPayload(c.buf, n, size)
	payload := len(c.buf)
	// The packet goes after the payload in the same buffer, then is moved before it: one
	// buffer, no allocation per message.
	c.buf = append(c.buf, 0x32) // PUBLISH, QoS 1
	c.buf = appendRemaining(c.buf, 2+len(topic)+2+payload)
	c.buf = appendMQTTString(c.buf, topic)
	c.buf = append(c.buf, byte(id>>8), byte(id))
	c.buf = append(c.buf, c.buf[:payload]...)
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.conn.Write(c.buf[payload:])
	return err
}

// readPuback reads one PUBACK and returns its packet id.
func (c *mqttConn) readPuback() (uint16, error) {
	var b [4]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return 0, err
	}
	if b[0] != 0x40 || b[1] != 2 {
		return 0, fmt.Errorf("packet % x, want a PUBACK (40 02 id id)", b)
	}
	return uint16(b[2])<<8 | uint16(b[3]), nil
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

// Throughput is messages stored per second: Acked/StoredAt, or NaN-free 0 when the store did
// not catch up (then the store holds fewer than were acknowledged).
func (r LoadResult) Throughput() float64 {
	if r.StoredAt <= 0 {
		return 0
	}
	return float64(r.Acked) / r.StoredAt.Seconds()
}

// cpuTimes are CPU times (user + system) used so far by this process (the load generator)
// and by the all-in-one (0 if unknown: no process, no /proc).
type cpuTimes struct{ gen, server, busy time.Duration }

func (p *Platform) cpu() cpuTimes {
	var t cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.gen = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if p.cmd != nil && p.cmd.Process != nil {
		t.server = procCPU(p.cmd.Process.Pid)
	}
	t.busy = machineBusy()
	return t
}

// machineBusy reads the CPU time all processes used, from the first line of /proc/stat
// ("cpu user nice system idle iowait irq softirq steal ...", in 1/100 s), or 0.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// procCPU reads utime + stime of process pid from /proc/<pid>/stat (in clock ticks of 1/100 s,
// the USER_HZ of Linux on amd64 and arm), or 0.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
