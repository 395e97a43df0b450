package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-iot/cairn/release/bench"
)

const clusterTitle = "Platform: three-node cluster, -replicas 3"

// clusterPart measures publishing into a three-node cluster of the all-in-one built by the
// platform part, every stream with three replicas, beside single, the single node's
// messages stored per second by protocol.
func (c *config) clusterPart(ctx context.Context, r *bench.Report, single map[string]float64) {
	s := r.Section(clusterTitle)
	bin := filepath.Join(c.work, "cairn")
	if _, err := os.Stat(bin); err != nil || single == nil {
		s.Add(errFigure("HTTP messages stored per second", "msg/s", nil, errors.New("the platform part did not build or run the all-in-one")))
		return
	}
	logf("starting a three-node cluster")
	nodes, err := bench.StartCluster(ctx, bin, filepath.Join(c.work, "cluster-data"), nil)
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
	runs := []struct {
		name string
		load bench.Load
		do   func(context.Context, bench.Load) bench.LoadResult
	}{
		{"HTTP", bench.Load{Messages: c.httpN, Workers: c.httpW, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, nodes[0].HTTP},
		{"MQTT", bench.Load{Messages: c.mqttN, Workers: c.mqttW, Window: c.window, Size: c.size, Cap: c.capDur, StoreWait: 30 * time.Second}, nodes[1].MQTT},
	}
	for _, pr := range runs {
		logf("%s load on the cluster", pr.name)
		res := pr.do(ctx, pr.load)
		tp := res.Throughput()
		f := bench.Figure{Name: pr.name + " messages stored per second, 3 nodes R3", Value: tp, Unit: "msg/s"}
		if one := single[pr.name]; one > 0 {
			f.Note = fmt.Sprintf("single node: %.0f msg/s; cluster / single = %.2f", one, tp/one)
		}
		if res.Acked == 0 {
			f.Err = "nothing acknowledged: " + res.FirstErr
		} else if res.StoredAt == 0 {
			f.Note = fmt.Sprintf("the store held %d of %d acknowledged messages after the wait", res.Stored, res.Acked)
		}
		s.Add(f)
		s.Add(bench.Figure{Name: pr.name + " acknowledged / failed, 3 nodes R3", Value: float64(res.Acked), Note: fmt.Sprintf("%d failed", res.Failed)})
		for _, q := range []float64{50, 99} {
			s.Add(bench.Figure{Name: fmt.Sprintf("%s latency p%g, 3 nodes R3", pr.name, q), Value: float64(bench.Percentile(res.Latencies, q)) / 1e6, Unit: "ms"})
		}
		if res.FirstErr != "" {
			s.Notef("%s on the cluster: first failure: %s", pr.name, res.FirstErr)
		}
	}
}
