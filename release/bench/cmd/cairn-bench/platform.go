package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-iot/cairn/lock/goenv"
	"github.com/cairn-iot/cairn/platform/loadgen"
	"github.com/cairn-iot/cairn/release/bench"
)

// platformPart measures the all-in-one alone; it returns the messages stored per second
// by protocol, for the cluster part to compare with.
func (c *config) platformPart(ctx context.Context, r *bench.Report) map[string]float64 {
	s := r.Section("Platform: publish into the store")
	httpTarget := &bench.Target{Op: ">=", Value: 20000}
	mqttTarget := &bench.Target{Op: ">=", Value: 100000}
	bin, err := c.buildBenchCairn(ctx)
	if err != nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", httpTarget, err))
		return nil
	}
	pprofAddr, _ := loadgen.FreeAddr()
	p, err := loadgen.StartPlatform(ctx, bin, filepath.Join(c.work, "cairn-data"), []string{"CAIRN_BENCH_PPROF=" + pprofAddr})
	if err != nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", httpTarget, err))
		return nil
	}
	defer p.Stop()
	s.Notef("The all-in-one built from the tree (plus a bench-only pprof listener), on loopback, a fresh data directory; %d-byte JSON messages; one thing publishing to one channel per protocol. The load generator (package platform/loadgen) runs in the bench's process and shares the cores with the all-in-one. HTTP: net/http's client, %d keep-alive HTTP/1.1 connections, one request (= one message, no batching) in flight on each; MQTT: paho (eclipse/paho.mqtt.golang), %d connections (MQTT 3.1.1, clean sessions, memory store, no reconnection, reads buffered), QoS 1, up to %d publishes (= one message, one write each) in flight per connection. Each run is bounded: %d HTTP / %d MQTT messages or %s. Throughput = acknowledged messages / time from the first publish until the store (GET /channels/{id}/messages total) holds them all. Latency = publish to acknowledgement (HTTP 202, MQTT PUBACK).",
		c.size, c.httpW, c.mqttW, c.window, c.httpN, c.mqttN, c.capDur)

	runs := []protoRun{
		{"HTTP", httpTarget, loadgen.Load{Messages: c.httpN, Workers: c.httpW, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, p.HTTP},
		{"MQTT", mqttTarget, loadgen.Load{Messages: c.mqttN, Workers: c.mqttW, Window: c.window, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, p.MQTT},
	}
	var best float64
	var rows []map[string]any
	stored := map[string]float64{}
	for _, pr := range runs {
		logf("%s load", pr.name)
		res := pr.do(ctx, pr.load)
		tp := res.Throughput()
		stored[pr.name] = tp
		best = math.Max(best, tp/pr.target.Value)
		protoFigures(s, pr, res)
		rows = append(rows, map[string]any{"protocol": pr.name, "sent": res.Sent, "acked": res.Acked, "failed": res.Failed,
			"stored": res.Stored, "publish_ns": res.Publish.Nanoseconds(), "stored_at_ns": res.StoredAt.Nanoseconds()})
		if !pr.target.Holds(tp) && ctx.Err() == nil {
			c.profileMiss(ctx, s, pr, bin, pprofAddr)
		}
	}
	s.Data = rows
	s.Add(bench.Figure{Name: "platform target: HTTP >= 20,000 or MQTT >= 100,000 msg/s (best fraction of its target)", Value: best, Unit: "x", Target: &bench.Target{Op: ">=", Value: 1}})
	return stored
}

// protoRun is one protocol's load in the platform part.
type protoRun struct {
	name   string
	target *bench.Target
	load   loadgen.Load
	do     func(context.Context, loadgen.Load) loadgen.LoadResult
}

// buildBenchCairn builds the all-in-one from the tree with a bench-only pprof listener
// added by go build -overlay, and returns the binary.
func (c *config) buildBenchCairn(ctx context.Context) (string, error) {
	bin := c.cairnBin()
	overlayDir := filepath.Join(c.work, "overlay")
	os.MkdirAll(overlayDir, 0o755)
	pp := filepath.Join(overlayDir, "bench_pprof.go")
	os.WriteFile(pp, []byte(pprofOverlay), 0o644)
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(c.dir, "platform", "cmd", "cairn", "zz_bench_pprof.go"): pp}})
	ovFile := filepath.Join(overlayDir, "overlay.json")
	os.WriteFile(ovFile, ov, 0o644)
	logf("building the all-in-one from the tree")
	cmd := exec.CommandContext(ctx, filepath.Join(c.goroot, "bin", "go"), "build", "-trimpath", "-overlay", ovFile, "-o", bin, "./platform/cmd/cairn")
	cmd.Dir = c.dir
	cmd.Env = goenv.Build(nil, goenv.Pick(os.LookupEnv)) // a release build's, for this host
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cairn: %w\n%s", err, out)
	}
	return bin, nil
}

// protoFigures adds one protocol's throughput, latencies and CPU shares.
func protoFigures(s *bench.Section, pr protoRun, res loadgen.LoadResult) {
	tp := res.Throughput()
	f := bench.Figure{Name: pr.name + " messages stored per second", Value: tp, Unit: "msg/s", Target: pr.target}
	if res.Acked == 0 {
		f.Err = "nothing acknowledged: " + res.FirstErr
	} else if res.StoredAt == 0 {
		f.Note = fmt.Sprintf("the store held %d of %d acknowledged messages after the wait", res.Stored, res.Acked)
	}
	s.Add(f)
	s.Add(bench.Figure{Name: pr.name + " acknowledged / failed", Value: float64(res.Acked), Unit: "", Note: fmt.Sprintf("%d failed", res.Failed)})
	for _, q := range []float64{50, 90, 99} {
		s.Add(bench.Figure{Name: fmt.Sprintf("%s latency p%g", pr.name, q), Value: float64(bench.Percentile(res.Latencies, q)) / 1e6, Unit: "ms"})
	}
	if res.StoredAt > 0 {
		s.Add(bench.Figure{Name: pr.name + " store lag after the last acknowledgement", Value: (res.StoredAt - res.Publish).Seconds(), Unit: "s"})
		// Both run on the same cores: how the machine was shared during the run.
		if res.ServerCPU > 0 {
			s.Add(bench.Figure{Name: pr.name + " CPU of the all-in-one", Value: math.Round(100*res.ServerCPU.Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
				Note: fmt.Sprintf("%.1f µs per message", float64(res.ServerCPU.Microseconds())/float64(res.Acked))})
		}
		s.Add(bench.Figure{Name: pr.name + " CPU of the load generator", Value: math.Round(100*res.GenCPU.Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
			Note: fmt.Sprintf("%.1f µs per message", float64(res.GenCPU.Microseconds())/float64(res.Acked))})
		if other := res.BusyCPU - res.GenCPU - res.ServerCPU; res.BusyCPU > 0 && res.ServerCPU > 0 {
			s.Add(bench.Figure{Name: pr.name + " CPU of other processes on the machine", Value: math.Round(100*max(other, 0).Seconds()/res.StoredAt.Seconds()) / 100, Unit: "cores",
				Note: "not the bench's: a busy machine lowers the figures above"})
		}
	}
	if res.FirstErr != "" {
		s.Notef("%s: first failure: %s", pr.name, res.FirstErr)
	}
}

// profileMiss profiles the all-in-one during a second, shorter run of a load that missed
// its target, and adds the top functions and where the goroutines were.
func (c *config) profileMiss(ctx context.Context, s *bench.Section, pr protoRun, bin, pprofAddr string) {
	logf("%s missed its target: profiling a second run", pr.name)
	prof := filepath.Join(c.work, strings.ToLower(pr.name)+".pprof")
	gor := filepath.Join(c.work, strings.ToLower(pr.name)+".goroutines")
	secs := 5
	errc := make(chan error, 2)
	base := "http://" + pprofAddr + "/debug/pprof/"
	go func() { errc <- fetch(ctx, base+"profile?seconds="+strconv.Itoa(secs), prof) }()
	go func() {
		time.Sleep(time.Duration(secs) * time.Second / 2)
		errc <- fetch(ctx, base+"goroutine?debug=1", gor)
	}()
	l := pr.load
	l.Messages, l.Cap, l.StoreWait = 1<<30, time.Duration(secs)*time.Second, time.Second
	pr.do(ctx, l)
	err1, err2 := <-errc, <-errc
	if err := errors.Join(err1, err2); err != nil {
		s.Notef("%s: profiling failed: %v", pr.name, err)
	} else {
		top := c.pprofTop(ctx, prof, bin)
		s.Notef("%s missed: CPU profile of the all-in-one during a second %d s run of the same load (top functions; the sample total over the duration is the CPU the all-in-one used, 200%% = both cores):\n%s", pr.name, secs, top)
		if g, err := os.ReadFile(gor); err == nil {
			s.Notef("%s: where the all-in-one's goroutines were, halfway through that run (innermost first):\n%s", pr.name, bench.GoroutineSummary(string(g), 10))
		}
	}
}
