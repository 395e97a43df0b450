package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-iot/cairn/platform/bus"
	"github.com/cairn-iot/cairn/platform/bus/bustest"
	"github.com/cairn-iot/cairn/platform/events"
)

// The fixture testdata/data-v1.tar.gz is a data directory written by the first cairn with
// data format version 1, and testdata/data-v1.json says what is in it. It is never
// regenerated for a new cairn (that would defeat its purpose): -update-data-v1 exists only to
// make it the first time, or when a deliberate format change retires it.
var updateDataV1 = flag.Bool("update-data-v1", false, "rewrite testdata/data-v1.tar.gz and data-v1.json")

// fixtureV1 is what the fixture data directory holds.
type fixtureV1 struct {
	Email      string   `json:"email"`
	Password   string   `json:"password"`
	ThingID    string   `json:"thing_id"`
	ThingKey   string   `json:"thing_key"`
	ChannelID  string   `json:"channel_id"`
	Operations []string `json:"operations"`
}

// TestOpensDataV1 starts this cairn on a copy of a version-1 data directory: the account
// logs in, the thing, channel and connection are there, the thing may publish, and the
// event log replays.
func TestOpensDataV1(t *testing.T) {
	if *updateDataV1 {
		writeDataV1(t)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "data-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixtureV1
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "data-v1.tar.gz"), dir)

	in := start(t, map[string]string{"CAIRN_DATA_DIR": dir})
	var tok struct{ Token string }
	in.call(t, 201, "POST", "/tokens", "", fmt.Sprintf(`{"email":%q,"password":%q}`, fx.Email, fx.Password), &tok)
	var th struct{ ID, Key string }
	in.call(t, 200, "GET", "/things/"+fx.ThingID, tok.Token, "", &th)
	if th.Key != fx.ThingKey {
		t.Errorf("thing key = %q, want %q", th.Key, fx.ThingKey)
	}
	var conns struct{ Total int }
	in.call(t, 200, "GET", "/channels/"+fx.ChannelID+"/things", tok.Token, "", &conns)
	if conns.Total != 1 {
		t.Errorf("the channel has %d things, want 1", conns.Total)
	}
	if code := publish(t, in, fx); code != http.StatusAccepted {
		t.Errorf("publishing with the fixture's thing key = %d, want 202", code)
	}
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	bb := bustest.OpenDir(t, dir)
	evs, err := events.All(context.Background(), bb.JS, events.ThingsSubject)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range evs {
		ops = append(ops, e.Fields["operation"])
	}
	if diff := cmp.Diff(fx.Operations, ops); diff != "" {
		t.Errorf("events.things of the version-1 data (-want +got):\n%s", diff)
	}
}

// publish posts a message as the fixture's thing and returns the status.
func publish(t *testing.T, in *instance, fx fixtureV1) int {
	t.Helper()
	req, _ := http.NewRequest("POST", in.base+"/channels/"+fx.ChannelID+"/messages/v1", strings.NewReader("21.5"))
	req.Header.Set("Authorization", "Thing "+fx.ThingKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func writeDataV1(t *testing.T) {
	if bus.FormatVersion != 1 {
		t.Fatalf("this binary writes data format %d; keep data-v1 as it is and add a fixture for the new version", bus.FormatVersion)
	}
	dir := t.TempDir()
	in := start(t, map[string]string{"CAIRN_DATA_DIR": dir})
	fx := fixtureV1{Email: "v1@example.com", Password: "version one"}
	in.call(t, 201, "POST", "/users", "", fmt.Sprintf(`{"email":%q,"password":%q}`, fx.Email, fx.Password), nil)
	var tok struct{ Token string }
	in.call(t, 201, "POST", "/tokens", "", fmt.Sprintf(`{"email":%q,"password":%q}`, fx.Email, fx.Password), &tok)
	var th struct{ ID, Key string }
	in.call(t, 201, "POST", "/things", tok.Token, `{"name":"sensor","metadata":{"model":"v1"}}`, &th)
	var ch struct{ ID string }
	in.call(t, 201, "POST", "/channels", tok.Token, `{"name":"readings"}`, &ch)
	in.call(t, 200, "PUT", "/channels/"+ch.ID+"/things/"+th.ID, tok.Token, "", nil)
	fx.ThingID, fx.ThingKey, fx.ChannelID = th.ID, th.Key, ch.ID
	fx.Operations = []string{"thing.create", "channel.create", "thing.connect"}
	if code := publish(t, in, fx); code != http.StatusAccepted {
		t.Fatalf("publishing = %d, want 202", code)
	}
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, dir, filepath.Join("testdata", "data-v1.tar.gz"))
	b, _ := json.MarshalIndent(fx, "", "  ")
	if err := os.WriteFile(filepath.Join("testdata", "data-v1.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeTarGz(t *testing.T, dir, out string) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func untar(t *testing.T, archive, dir string) {
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			t.Fatalf("fixture entry %q leaves the directory", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("fixture entry %q has type %c", h.Name, h.Typeflag)
		}
	}
}
