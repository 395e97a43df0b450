package faults_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/test/fixture"
	"github.com/cairn-iot/cairn/test/testenv"
)

// killPoints are the progress markers of a release, as paths below its staging directory
// (dist.staging-*, a glob): the release is SIGKILLed as soon as the marker appears, so
// each kill lands at or just after a different step.
var killPoints = []string{
	".",                                      // lock taken, staging dir created
	"bin",                                    // building
	"bin/linux_amd64/hello",                  // first binary being written by the linker
	"bin/linux_arm_v7",                       // second build started
	"bin/linux_arm_v7/hello",                 // second binary being written
	"oci",                                    // image assembly started
	"oci/blobs/sha256/*",                     // first blob written
	"oci/index.json",                         // layout index written
	"archives",                               // archives started
	"archives/hello.oci.tar",                 // oci-archive being written
	"archives/hello_linux_arm_v7.docker.tar", // last docker archive
	"release.json",                           // record written, steps next
	"cosign",                                 // signing started
	"cosign/hello/blobs/sha256/*",            // first signature blob
	"attestations/hello/*",                   // attestations for humans
}

// watch polls the staging dirs of dist in mod for marker and returns when it exists, or
// false when exited is closed; it fails the test after ten minutes (a cold release builds).
func watch(t *testing.T, mod, marker string, exited <-chan struct{}) bool {
	t.Helper()
	pattern := filepath.Join(mod, "dist.staging-*", marker)
	deadline := time.After(10 * time.Minute)
	for {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return true
		}
		select {
		case <-exited:
			return false
		case <-deadline:
			t.Fatalf("no %s in %s within 10 minutes, and the release has not exited", marker, pattern)
		case <-time.After(time.Millisecond):
		}
	}
}

// startRelease starts a release of mod and returns it with a channel closed when it exits.
func startRelease(t *testing.T, mod string, out *testenv.SyncBuffer) (*exec.Cmd, chan struct{}, *error) {
	t.Helper()
	cmd := releaseCmd(t, mod, fixtureVersion)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var werr error
	go func() { werr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	return cmd, exited, &werr
}

func TestKilledRelease(t *testing.T) {
	refMod, want := reference(t)
	killed, ran := 0, 0
	for i, marker := range killPoints {
		previous := i%2 == 0
		name := strings.ReplaceAll(marker, "/", "_")
		t.Run(name, func(t *testing.T) {
			ran++
			mod := newModule(t, t.TempDir())
			dist := filepath.Join(mod, "dist")
			var prev map[string]string
			if previous {
				// The previous release is an older version, so a swap would show.
				if err := os.CopyFS(dist, os.DirFS(filepath.Join(refMod, "dist"))); err != nil {
					t.Fatal(err)
				}
				rec := filepath.Join(dist, "release.json")
				b, _ := os.ReadFile(rec)
				os.WriteFile(rec, bytes.Replace(b, []byte(fixtureVersion), []byte("v0.0.0-previous"), 1), 0o644)
				var err error
				if prev, err = fixture.HashTree(dist); err != nil {
					t.Fatal(err)
				}
			}
			out := &testenv.SyncBuffer{}
			cmd, exited, werr := startRelease(t, mod, out)
			if !watch(t, mod, marker, exited) {
				t.Logf("the release finished before %s appeared (%v); not counted", marker, *werr)
				return
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			var ee *exec.ExitError
			if !errors.As(*werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Logf("the release ended with %v before the kill; not counted\n%s", *werr, out)
				return
			}
			killed++
			survived := 0
			got, err := fixture.HashTree(dist)
			switch {
			case err == nil && fixture.SameTree(want, got) == "":
				// The kill landed after the swap: dist/ is the new release, complete. A
				// kill can never be quicker than the rename it races; this is not a half.
				t.Logf("the kill at %s landed after the swap: dist/ is the complete new release", marker)
			case !previous && err == nil:
				t.Errorf("after a first release killed at %s, dist/ exists, want none:\n%v", marker, got)
			case !previous && !os.IsNotExist(errors.Unwrap(err)) && !os.IsNotExist(err):
				t.Errorf("after a first release killed at %s: reading dist/: %v", marker, err)
			case previous && err != nil:
				t.Errorf("after a release killed at %s, the previous dist/ is gone: %v", marker, err)
			case previous:
				if d := fixture.SameTree(prev, got); d != "" {
					t.Errorf("after a release killed at %s, dist/ is not the previous release:\n%s", marker, d)
				}
			}
			release(t, mod, fixtureVersion)
			got, err = fixture.HashTree(dist)
			if err != nil {
				t.Fatal(err)
			}
			if d := fixture.SameTree(want, got); d != "" {
				t.Errorf("the release after a kill at %s differs from an undisturbed one:\n%s", marker, d)
			} else if !t.Failed() {
				survived = 1
			}
			if left, _ := filepath.Glob(filepath.Join(mod, "dist.staging-*")); len(left) != 0 {
				t.Errorf("staging dirs left after the next release: %v", left)
			}
			fault(1, survived)
		})
	}
	t.Logf("release killed at %d of %d points", killed, len(killPoints))
	if ran == len(killPoints) && killed < 10 {
		t.Errorf("the release was killed at %d points, want at least 10", killed)
	}
}

// TestTwoReleasesAtOnce starts a release, freezes it (SIGSTOP) while it holds the lock, and
// starts a second in the same tree: the second must say it waits, and once the first goes on,
// both complete and dist/ is exactly an undisturbed release.
func TestTwoReleasesAtOnce(t *testing.T) {
	_, want := reference(t)
	mod := newModule(t, t.TempDir())
	outA, outB := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	a, exitedA, errA := startRelease(t, mod, outA)
	if !watch(t, mod, "bin", exitedA) {
		t.Fatalf("the first release ended before building: %v\n%s", *errA, outA)
	}
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	_, exitedB, errB := startRelease(t, mod, outB)
	for !strings.Contains(outB.String(), "waiting for it to finish") {
		select {
		case <-exitedB:
			a.Process.Signal(syscall.SIGCONT)
			t.Fatalf("the second release ended while the first held the lock: %v\n%s", *errB, outB)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	<-exitedA
	<-exitedB
	if *errA != nil || *errB != nil {
		t.Fatalf("releases at once: first %v, second %v, want both to complete\nfirst:\n%s\nsecond:\n%s", *errA, *errB, outA, outB)
	}
	got, err := fixture.HashTree(filepath.Join(mod, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	if d := fixture.SameTree(want, got); d != "" {
		t.Errorf("dist/ after two releases at once differs from one undisturbed release:\n%s", d)
	}
	if left, _ := filepath.Glob(filepath.Join(mod, "dist.staging-*")); len(left) != 0 {
		t.Errorf("staging dirs left: %v", left)
	}
}
