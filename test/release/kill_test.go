package release_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-iot/cairn/images"
	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/release"
	"github.com/cairn-iot/cairn/release/build"
	"github.com/cairn-iot/cairn/release/record"
	"github.com/cairn-iot/cairn/release/verify"
)

// The killed-release child: the test binary re-executed with these variables runs one
// fixture release that stops at a chosen point (writes the marker file, then blocks) and
// waits there to be killed with SIGKILL.
const (
	childEnv       = "CAIRN_RELEASE_CHILD"        // "build" or "step": where to stop
	childDirEnv    = "CAIRN_RELEASE_CHILD_DIR"    // module dir
	childMarkEnv   = "CAIRN_RELEASE_CHILD_MARK"   // marker file written at the stop
	childGOROOTEnv = "CAIRN_RELEASE_CHILD_GOROOT" // pinned toolchain
)

func runChild() {
	phase, dir, mark := os.Getenv(childEnv), os.Getenv(childDirEnv), os.Getenv(childMarkEnv)
	stop := func() {
		if err := os.WriteFile(mark, []byte("stopped"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		select {} // wait for SIGKILL
	}
	o := release.Options{
		Mode: release.ModeRelease, ModuleDir: dir, Services: fixtureServices,
		GOROOT: os.Getenv(childGOROOTEnv), Toolchain: "go1.26.8",
		Version: fixtureVersion, Commit: fixtureCommit, Epoch: time.Unix(fixtureEpoch, 0),
		Compressor: images.DefaultCompressor, Pass: goenv.Pick(os.LookupEnv),
	}
	switch phase {
	case "build": // after the first binary is built, before the second
		o.GoBuild = func(ctx context.Context, dir, goBin string, args, env []string) error {
			if err := build.Exec(ctx, dir, goBin, args, env); err != nil {
				return err
			}
			stop()
			return nil
		}
	case "step": // everything staged (bin, oci, archives, release.json), before the swap
		o.Steps = []record.Step{func(ctx context.Context, s *record.Stage) error { stop(); return nil }}
	}
	if _, err := release.Run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(4) // reaching the end means the stop did not happen
}

func TestKilledReleaseLeavesPreviousDistOrNone(t *testing.T) {
	_, prevDist := fixtureRelease(t)
	goroot := pinnedGOROOT(t)
	prevRecord, err := os.ReadFile(filepath.Join(prevDist, record.File))
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{"build", "step"} {
		for _, previous := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/previous=%v", phase, previous), func(t *testing.T) {
				mod := copyFixture(t, t.TempDir())
				dist := filepath.Join(mod, "dist")
				if previous {
					copyDir(t, prevDist, dist)
				}
				mark := filepath.Join(t.TempDir(), "stopped")
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+phase, childDirEnv+"="+mod, childMarkEnv+"="+mark, childGOROOTEnv+"="+goroot)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				// Wait for the child to reach its stop (a condition, not a timing), for at
				// most ten minutes: a cold release builds.
				deadline := time.After(10 * time.Minute)
				for {
					if _, err := os.Stat(mark); err == nil {
						break
					}
					select {
					case err := <-exited:
						t.Fatalf("release child exited before its stop: %v\n%s", err, stderr.String())
					case <-deadline:
						cmd.Process.Kill()
						t.Fatalf("release child did not reach its stop within 10 minutes\n%s", stderr.String())
					case <-time.After(20 * time.Millisecond):
					}
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-exited

				staged, _ := filepath.Glob(filepath.Join(mod, "dist.staging-*"))
				if len(staged) == 0 {
					t.Errorf("no staging dir left: the child was not killed mid-release")
				}
				if !previous {
					if _, err := os.Stat(dist); !os.IsNotExist(err) {
						t.Fatalf("after a killed first release, dist/ exists (err %v), want none", err)
					}
					return
				}
				got, err := os.ReadFile(filepath.Join(dist, record.File))
				if err != nil {
					t.Fatalf("after a killed release, the previous dist/ is gone: %v", err)
				}
				if !bytes.Equal(got, prevRecord) {
					t.Errorf("after a killed release, dist/release.json = %s, want the previous %s", got, prevRecord)
				}
				rep, err := verify.Compare(prevDist, dist)
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Pass {
					t.Errorf("after a killed release, dist/ differs from the previous one:\n%s", rep.Text())
				}
				if phase == "step" {
					// The next release cleans up the killed one's staging dir.
					if _, err := release.Run(context.Background(), fixtureOptions(t, mod)); err != nil {
						t.Fatal(err)
					}
					if left, _ := filepath.Glob(filepath.Join(mod, "dist.staging-*")); len(left) != 0 {
						t.Errorf("staging dirs left after the next release: %v", left)
					}
				}
			})
		}
	}
}
