package id_test

import (
	"sort"
	"testing"

	"github.com/cairn-iot/cairn/platform/id"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	var ids []string
	for range 1000 {
		s := id.New()
		if !id.Valid(s) {
			t.Fatalf("New() = %q, not Valid", s)
		}
		if s[14] != '7' || !(s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b') {
			t.Fatalf("New() = %q, want version 7 and variant 10", s)
		}
		if seen[s] {
			t.Fatalf("New() returned %q twice", s)
		}
		seen[s] = true
		ids = append(ids, s)
	}
	// Within a process, ids sort in creation order, also within one millisecond.
	if !sort.StringsAreSorted(ids) {
		t.Errorf("successive New() ids are not sorted")
	}
}

func TestKeyAndToken(t *testing.T) {
	k := id.Key()
	if !id.Valid(k) || k[14] != '4' {
		t.Errorf("Key() = %q, want a valid UUIDv4", k)
	}
	if tok := id.Token(); len(tok) != 43 || tok == id.Token() {
		t.Errorf("Token() = %q, want 43 random base64url characters", tok)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b", true},
		{"0190A0B2-7c3d-7e4f-8a1b-2c3d4e5f6a7b", false},
		{"0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a7", false},
		{"0190a0b2_7c3d-7e4f-8a1b-2c3d4e5f6a7b", false},
		{"0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a.b", false},
		{"0190a0b2-7c3d-7e4f-8a1b-2c3d4e5f6a*b", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := id.Valid(tt.s); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
