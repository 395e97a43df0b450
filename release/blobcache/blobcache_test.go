package blobcache

import (
	"os"
	"testing"
)

func TestDirChecksWhatItReturns(t *testing.T) {
	d := Dir{Path: t.TempDir(), Ext: ".x"}
	if _, _, ok, err := d.Get("k"); ok || err != nil {
		t.Fatalf("Get(empty) = %v, %v; want a miss", ok, err)
	}
	if err := d.Put("k", "sha256:abc", []byte("body")); err != nil {
		t.Fatal(err)
	}
	label, body, ok, err := d.Get("k")
	if !ok || err != nil || label != "sha256:abc" || string(body) != "body" {
		t.Fatalf("Get = %q, %q, %v, %v; want the entry", label, body, ok, err)
	}
	// A flipped byte, a cut entry, an entry without its header: misses, not wrong bytes.
	for _, bad := range []string{"sha256:abc sha256:230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5\nbodY", "sha256:abc sha256:", "body"} {
		if err := os.WriteFile(d.file("k"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, b, ok, err := d.Get("k"); ok || err != nil {
			t.Errorf("Get(%q) = %q, %v, %v; want a miss", bad, b, ok, err)
		}
	}
	if err := d.Put("k", "two words", nil); err == nil {
		t.Error("Put(label with a space) = nil, want an error")
	}
}
