package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		code       int
		keep, fail bool
		rest       string // what the reader holds after the response
	}{
		{"accepted", "HTTP/1.1 202 Accepted\r\nDate: x\r\nContent-Length: 0\r\n\r\nNEXT", 202, true, false, "NEXT"},
		{"refused with a body", "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\nContent-Type: application/json\r\n\r\n{\"a\"}NEXT", 503, true, false, "NEXT"},
		{"connection close", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 400, false, false, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, false, true, ""},
		{"not HTTP/1.1", "HTTP/1.0 200 OK\r\n\r\n", 0, false, true, ""},
		{"bad status", "HTTP/1.1 2x2 OK\r\n\r\n", 0, false, true, ""},
		{"bad length", "HTTP/1.1 202 Accepted\r\nContent-Length: many\r\n\r\n", 0, false, true, ""},
		{"short body", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 50\r\n\r\n{}", 0, false, true, ""},
		{"cut headers", "HTTP/1.1 202 Accepted\r\nContent-Le", 0, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in))
			code, keep, err := readResponse(r)
			if (err != nil) != tc.fail {
				t.Fatalf("readResponse(%q) error = %v, want failure %v", tc.in, err, tc.fail)
			}
			if tc.fail {
				return
			}
			if code != tc.code || keep != tc.keep {
				t.Errorf("readResponse(%q) = %d, %v; want %d, %v", tc.in, code, keep, tc.code, tc.keep)
			}
			rest := make([]byte, 16)
			n, _ := r.Read(rest)
			if got := string(rest[:n]); got != tc.rest {
				t.Errorf("after readResponse(%q), the reader holds %q, want %q", tc.in, got, tc.rest)
			}
		})
	}
}

func TestAppendPayload(t *testing.T) {
	b := AppendPayload([]byte("head"), 42, 100)
	if got, want := string(b), "head"+string(Payload(42, 100)); got != want {
		t.Errorf("AppendPayload(head, 42, 100) = %q, want %q", got, want)
	}
}

// fakeBroker accepts MQTT 3.1.1 connections that CONNECT as user/pass and acknowledges
// every QoS 1 PUBLISH of 100-byte payload (counting it in stored); anything else ends the
// connection.
func fakeBroker(t *testing.T, user, pass string, stored *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	readPacket := func(r *bufio.Reader) (byte, []byte, error) {
		h, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n, mul := 0, 1
		for {
			c, err := r.ReadByte()
			if err != nil {
				return 0, nil, err
			}
			n += int(c&0x7f) * mul
			mul *= 128
			if c&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		_, err = io.ReadFull(r, body)
		return h, body, err
	}
	str := func(b []byte) (string, []byte) {
		n := int(b[0])<<8 | int(b[1])
		return string(b[2 : 2+n]), b[2+n:]
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				h, body, err := readPacket(r)
				if err != nil || h != 0x10 {
					return
				}
				_, rest := str(body) // "MQTT"
				rest = rest[4:]      // level, flags, keep-alive
				_, rest = str(rest)  // client id
				u, rest := str(rest)
				pw, _ := str(rest)
				if u != user || pw != pass {
					conn.Write([]byte{0x20, 2, 0, 5})
					return
				}
				conn.Write([]byte{0x20, 2, 0, 0})
				for {
					h, body, err := readPacket(r)
					if err != nil || h == 0xe0 {
						return
					}
					if h != 0x32 {
						return
					}
					_, rest := str(body)
					if len(rest) != 2+100 {
						return
					}
					stored.Add(1)
					conn.Write([]byte{0x40, 2, rest[0], rest[1]})
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestMQTTLoad runs the MQTT load against a fake broker and a fake store.
func TestMQTTLoad(t *testing.T) {
	var stored atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"total": stored.Load()})
	}))
	defer srv.Close()
	p := &Platform{HTTPAddr: strings.TrimPrefix(srv.URL, "http://"), MQTTAddr: fakeBroker(t, "thing", "key", &stored),
		ThingID: "thing", ThingKey: "key", Bearer: "Bearer x", Channels: map[string]string{"mqtt": "ch1"}}
	res := p.MQTT(context.Background(), Load{Messages: 70000, Workers: 3, Window: 8, Size: 100, Cap: time.Minute, StoreWait: 5 * time.Second})
	if res.Acked != 70000 || res.Failed != 0 || len(res.Latencies) != res.Acked {
		t.Errorf("MQTT load: acked %d, failed %d (%s), %d latencies; want 70000 acked (packet ids wrap at 65535), none failed", res.Acked, res.Failed, res.FirstErr, len(res.Latencies))
	}
	if res.Stored != res.Acked || res.Throughput() <= 0 {
		t.Errorf("MQTT load: stored %d, throughput %v; want every acknowledged message stored", res.Stored, res.Throughput())
	}
	p.ThingKey = "wrong"
	res = p.MQTT(context.Background(), Load{Messages: 10, Workers: 1, Window: 8, Size: 100, Cap: time.Minute, StoreWait: time.Second})
	if res.Acked != 0 || !strings.Contains(res.FirstErr, "CONNACK") {
		t.Errorf("MQTT load with a wrong key: acked %d, first error %q; want nothing acknowledged and the refused CONNACK", res.Acked, res.FirstErr)
	}
}
