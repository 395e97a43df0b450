package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cairn-iot/cairn/platform/loadgen"
	"github.com/cairn-iot/cairn/release/bench"
)

// errNoPlatform: the platform part, which builds the all-in-one, did not measure it.
var errNoPlatform = errors.New("the platform part did not build or run the all-in-one")

// cairnBin is the all-in-one the platform part builds from the tree.
func (c *config) cairnBin() string { return filepath.Join(c.work, "cairn") }

const (
	clusterTitle = "Platform: three-node cluster, -replicas 3"
	tlsTitle     = "Platform: TLS (HTTPS and MQTTS)"
)

// clusterPart measures publishing into a three-node cluster of the all-in-one built by the
// platform part, every stream with three replicas, beside single, the single node's
// messages stored per second by protocol.
func (c *config) clusterPart(ctx context.Context, r *bench.Report, single map[string]float64) {
	s := r.Section(clusterTitle)
	if single == nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", nil, errNoPlatform))
		return
	}
	logf("starting a three-node cluster")
	nodes, err := loadgen.StartCluster(ctx, c.cairnBin(), filepath.Join(c.work, "cluster-data"), nil)
	if err != nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", nil, err))
		return
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	s.Notef("Three all-in-one nodes on loopback forming one JetStream cluster by themselves (-cluster-listen, -cluster-routes), -replicas 3: a message is acknowledged once two of the three nodes hold it. The same binary, message size, loads and bounds as the single node above; HTTP publishes to n1, MQTT to n2 (each node forwards to the MESSAGES stream's leader, wherever it is); the store is read on the node published to. The three nodes and the load generator share the machine's %s cores, so the figures measure the replication's cost on one machine, not a cluster's capacity.", r.Machine["cpus"])
	c.compare(ctx, s, "3 nodes R3", single, nodes[0], nodes[1])
}

// tlsPart measures the all-in-one serving HTTPS and MQTTS (TLS 1.3, ECDSA P-256) beside
// single, its plaintext figures.
func (c *config) tlsPart(ctx context.Context, r *bench.Report, single map[string]float64) {
	s := r.Section(tlsTitle)
	if single == nil {
		s.Add(errFigure("HTTPS messages stored per second", "msg/s", nil, errNoPlatform))
		return
	}
	logf("starting the all-in-one with TLS")
	p, err := loadgen.StartTLSPlatform(ctx, c.cairnBin(), filepath.Join(c.work, "tls-data"), filepath.Join(c.work, "tls-certs"), nil)
	if err != nil {
		s.Add(errFigure("HTTPS messages stored per second", "msg/s", nil, err))
		return
	}
	defer p.Stop()
	s.Notef("The same all-in-one, loads and bounds as the plaintext runs above, with -tls-cert and -tls-key (an ECDSA P-256 certificate from a development CA): HTTP over TLS (HTTPS) and MQTT over TLS (MQTTS, plaintext MQTT off); the load generator's connections negotiate TLS 1.3 once each and are kept.")
	c.compare(ctx, s, "TLS", single, p, p)
}

// compare runs the HTTP load on httpP and the MQTT load on mqttP and reports each
// throughput, labelled with what, beside single's.
func (c *config) compare(ctx context.Context, s *bench.Section, what string, single map[string]float64, httpP, mqttP *loadgen.Platform) {
	runs := []struct {
		name string
		load loadgen.Load
		do   func(context.Context, loadgen.Load) loadgen.LoadResult
	}{
		{"HTTP", loadgen.Load{Messages: c.httpN, Workers: c.httpW, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, httpP.HTTP},
		{"MQTT", loadgen.Load{Messages: c.mqttN, Workers: c.mqttW, Window: c.window, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, mqttP.MQTT},
	}
	for _, pr := range runs {
		logf("%s load, %s", pr.name, what)
		res := pr.do(ctx, pr.load)
		tp := res.Throughput()
		f := bench.Figure{Name: pr.name + " messages stored per second, " + what, Value: tp, Unit: "msg/s"}
		if one := single[pr.name]; one > 0 {
			f.Note = fmt.Sprintf("plaintext single node: %.0f msg/s; ratio %.2f", one, tp/one)
		}
		if res.Acked == 0 {
			f.Err = "nothing acknowledged: " + res.FirstErr
		} else if res.StoredAt == 0 {
			f.Note = fmt.Sprintf("the store held %d of %d acknowledged messages after the wait", res.Stored, res.Acked)
		}
		s.Add(f)
		s.Add(bench.Figure{Name: pr.name + " acknowledged / failed, " + what, Value: float64(res.Acked), Note: fmt.Sprintf("%d failed", res.Failed)})
		for _, q := range []float64{50, 99} {
			s.Add(bench.Figure{Name: fmt.Sprintf("%s latency p%g, %s", pr.name, q, what), Value: float64(bench.Percentile(res.Latencies, q)) / 1e6, Unit: "ms"})
		}
		if res.FirstErr != "" {
			s.Notef("%s, %s: first failure: %s", pr.name, what, res.FirstErr)
		}
	}
}
