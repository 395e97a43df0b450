// Package id makes the platform's identifiers and secrets.
//
// Ids are UUIDv7 (RFC 9562): random, and ordered by creation time when sorted as strings,
// so listings sorted by id are in creation order. Secrets (thing keys, user tokens) are
// random only and never derived from time.
package id

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

var (
	mu     sync.Mutex
	lastMs int64
	seq    uint16
)

// New returns a new UUIDv7 in its canonical lower-case form. Within one process the ids
// are strictly increasing: the 12 bits after the millisecond timestamp are a counter that
// starts at a random value below 2048 each millisecond (RFC 9562, section 6.2, method 1).
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on an unusable source)
	mu.Lock()
	ms := time.Now().UnixMilli()
	if ms <= lastMs {
		ms, seq = lastMs, seq+1
		if seq > 0xfff {
			ms, seq = ms+1, 0
		}
	} else {
		seq = binary.BigEndian.Uint16(b[6:8]) & 0x7ff
	}
	lastMs = ms
	s := seq
	mu.Unlock()
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|uint64(s))
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return format(b)
}

// Key returns a new random UUIDv4: a thing's secret key, in the form Mainflux used.
func Key() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = 0x40 | b[6]&0x0f // version 4
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return format(b)
}

// Token returns a new random bearer token: 32 bytes, base64url without padding.
func Token() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func format(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Valid reports whether s has the form of an id (36 characters, lower-case hex and hyphens
// at the UUID positions). Handlers check ids from URLs with it before using them in
// storage keys or subjects.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
