package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-iot/cairn/release/record"
)

// countingGo is fakeGo counting its calls.
func countingGo(n *atomic.Int32) func(ctx context.Context, dir, goBin string, args, env []string) error {
	return func(ctx context.Context, dir, goBin string, args, env []string) error {
		n.Add(1)
		return fakeGo(ctx, dir, goBin, args, env)
	}
}

// freshFixture releases a module with one source file and a key file, and returns its options.
func freshFixture(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"go.mod":          "module example.com/m\n",
		"cmd/a/main.go":   "package main\n",
		".cairn/keys/key": "key one\n",
		".git/HEAD":       "ref: refs/heads/main\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := testOptions(dir)
	o.ExtraInputs = []string{filepath.Join(dir, ".cairn", "keys", "key")}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestUpToDateAfterRelease(t *testing.T) {
	o := freshFixture(t)
	f, err := UpToDate(o)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Fresh || f.Record == nil || f.Record.Version != o.Version {
		t.Fatalf("UpToDate after a release = %+v, want fresh with the record of %s", f, o.Version)
	}
	// Every file below dist/ but the fingerprint itself is listed.
	var want int
	filepath.WalkDir(filepath.Join(o.ModuleDir, "dist"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != record.InputsFile {
			want++
		}
		return err
	})
	if f.Files != want || want == 0 {
		t.Errorf("UpToDate checked %d files, want the %d files of dist/", f.Files, want)
	}
	// Files the release did not write (a bench report), git metadata and .cairn scratch
	// change nothing.
	for _, p := range []string{"dist/bench/report.md", ".git/index", ".cairn/bench/x"} {
		p = filepath.Join(o.ModuleDir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := UpToDate(o); err != nil || !f.Fresh {
		t.Errorf("UpToDate with unrelated files added = %+v, %v, want fresh", f, err)
	}
}

func TestUpToDateSeesEveryChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, o *Options)
		reason string
	}{
		{"source edited", func(t *testing.T, o *Options) {
			write(t, filepath.Join(o.ModuleDir, "cmd", "a", "main.go"), "package main // changed\n")
		}, "the inputs changed"},
		{"source added", func(t *testing.T, o *Options) {
			write(t, filepath.Join(o.ModuleDir, "cmd", "a", "new.go"), "package main\n")
		}, "the inputs changed"},
		{"mode bit", func(t *testing.T, o *Options) {
			if err := os.Chmod(filepath.Join(o.ModuleDir, "go.mod"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "the inputs changed"},
		{"same mtime, other bytes", func(t *testing.T, o *Options) {
			p := filepath.Join(o.ModuleDir, "go.mod")
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			write(t, p, "module example.com/n\n") // same length
			if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, "the inputs changed"},
		{"signing key", func(t *testing.T, o *Options) {
			write(t, o.ExtraInputs[0], "key two\n")
		}, "the inputs changed"},
		{"signing key removed", func(t *testing.T, o *Options) {
			if err := os.Remove(o.ExtraInputs[0]); err != nil {
				t.Fatal(err)
			}
		}, "the inputs changed"},
		{"version", func(t *testing.T, o *Options) { o.Version = "v1.0.1" }, "the inputs changed"},
		{"mode", func(t *testing.T, o *Options) { o.Mode = ModeBuild }, "the inputs changed"},
		{"dist file tampered", func(t *testing.T, o *Options) {
			p := filepath.Join(o.ModuleDir, "dist", "bin", "linux_amd64", "a")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			write(t, p, string(bytes.ToUpper(b)))
		}, "dist/bin/linux_amd64/a was changed after the release"},
		{"dist file removed", func(t *testing.T, o *Options) {
			if err := os.Remove(filepath.Join(o.ModuleDir, "dist", "oci", "index.json")); err != nil {
				t.Fatal(err)
			}
		}, "dist/ is incomplete"},
		{"fingerprint removed", func(t *testing.T, o *Options) {
			if err := os.Remove(filepath.Join(o.ModuleDir, "dist", record.InputsFile)); err != nil {
				t.Fatal(err)
			}
		}, "no complete release"},
		{"fingerprint damaged", func(t *testing.T, o *Options) {
			write(t, filepath.Join(o.ModuleDir, "dist", record.InputsFile), "{")
		}, "is not a cairn.inputs/v1 fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := freshFixture(t)
			tc.change(t, &o)
			f, err := UpToDate(o)
			if err != nil {
				t.Fatal(err)
			}
			if f.Fresh || !strings.Contains(f.Reason, tc.reason) {
				t.Errorf("UpToDate = fresh %v, reason %q; want not fresh, reason containing %q", f.Fresh, f.Reason, tc.reason)
			}
		})
	}
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunSkipsAnUpToDateRelease(t *testing.T) {
	o := freshFixture(t)
	var n atomic.Int32
	o.GoBuild = countingGo(&n)
	var log bytes.Buffer
	o.Log = &log
	rec, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 0 || rec == nil || !strings.Contains(log.String(), "is up to date") {
		t.Errorf("second release: %d go builds, record %v, log %q; want none, the record, and 'is up to date'", n.Load(), rec, log.String())
	}
	// Force builds again; a changed source builds again.
	o.Force = true
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Errorf("Force: no go build ran")
	}
	o.Force = false
	n.Store(0)
	write(t, filepath.Join(o.ModuleDir, "cmd", "a", "main.go"), "package main // changed\n")
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Errorf("changed source: no go build ran")
	}
}

func TestTreeChangedDuringReleaseWritesNoFingerprint(t *testing.T) {
	o := freshFixture(t)
	o.Version = "v2.0.0"
	o.afterStage = nil
	o.GoBuild = func(ctx context.Context, dir, goBin string, args, env []string) error {
		write(t, filepath.Join(o.ModuleDir, "cmd", "a", "main.go"), "package main // edited mid-build\n")
		return fakeGo(ctx, dir, goBin, args, env)
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.ModuleDir, "dist", record.InputsFile)); !os.IsNotExist(err) {
		t.Errorf("dist/%s after the tree changed mid-release: %v, want none", record.InputsFile, err)
	}
	if f, err := UpToDate(o); err != nil || f.Fresh {
		t.Errorf("UpToDate = %+v, %v; want not fresh", f, err)
	}
}

func TestUpToDateReleaseRemovesKilledStaging(t *testing.T) {
	o := freshFixture(t)
	stale := filepath.Join(o.ModuleDir, "dist.staging-123")
	if err := os.MkdirAll(filepath.Join(stale, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	// While another release holds the lock, its staging directory is its own.
	unlock, err := lockDist(filepath.Join(o.ModuleDir, "dist"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("an up-to-date release removed %s while another release held the lock: %v", stale, err)
	}
	unlock()
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("an up-to-date release left the killed release's %s: %v", stale, err)
	}
}
