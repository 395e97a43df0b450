package bench

import (
	"bufio"
	"strings"
	"testing"
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
