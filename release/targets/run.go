package targets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Run builds the all-in-one cairn (./platform/cmd/cairn, with the go on PATH: this is the
// development loop, not a release) into .cairn/bin/cairn and runs it bound to loopback:
// HTTP on 127.0.0.1:8080, MQTT on 127.0.0.1:1883 (MQTTS on 127.0.0.1:8883 with TLS), data in .cairn/data. Ctrl-C (the
// cancelled context) stops it cleanly with SIGTERM. CAIRN_HTTP_ADDR, CAIRN_MQTT_ADDR and
// CAIRN_DATA_DIR, when set, replace those defaults; every other CAIRN_* variable reaches
// cairn as it is.
func Run(ctx context.Context) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	return runCairn(ctx, runConfig{
		moduleDir: dir,
		bin:       filepath.Join(dir, ".cairn", "bin", "cairn"),
		env:       os.Environ(),
		stdout:    os.Stdout,
		stderr:    os.Stderr,
	})
}

// runConfig is what Run reads from its environment, as values.
type runConfig struct {
	moduleDir      string
	bin            string
	env            []string
	stdout, stderr io.Writer
}

// stopTimeout is how long cairn gets to drain after SIGTERM before it is killed.
const stopTimeout = 30 * time.Second

func runCairn(ctx context.Context, c runConfig) error {
	build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./platform/cmd/cairn")
	build.Dir, build.Env, build.Stdout, build.Stderr = c.moduleDir, c.env, c.stderr, c.stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building cairn: %w", err)
	}
	env := runEnv(c.env, c.moduleDir)
	cmd := exec.Command(c.bin)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.moduleDir, env, c.stdout, c.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting cairn: %w", err)
	}
	fmt.Fprintf(c.stderr, "cairn: HTTP on %s, MQTT on %s, data in %s; Ctrl-C stops it\n",
		lookup(env, "CAIRN_HTTP_ADDR"), lookup(env, "CAIRN_MQTT_ADDR"), lookup(env, "CAIRN_DATA_DIR"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("cairn stopped: %w", err)
		}
		return errors.New("cairn stopped by itself")
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("stopping cairn: %w", err)
		}
		return nil
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("stopping cairn: still running %s after SIGTERM, killed", stopTimeout)
	}
}

// runEnv is env with the loopback defaults of `mage run` for the variables env leaves unset.
func runEnv(env []string, moduleDir string) []string {
	out := append([]string(nil), env...)
	for _, kv := range [][2]string{
		{"CAIRN_HTTP_ADDR", "127.0.0.1:8080"},
		{"CAIRN_MQTT_ADDR", "127.0.0.1:1883"},
		{"CAIRN_MQTTS_ADDR", "127.0.0.1:8883"},
		{"CAIRN_DATA_DIR", filepath.Join(moduleDir, ".cairn", "data")},
	} {
		if lookup(env, kv[0]) == "" {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	return out
}

// lookup returns the value of the last name=value entry of env, as the os package does.
func lookup(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
