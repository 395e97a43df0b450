package main

import (
	"flag"
	"strings"

	"github.com/cairn-iot/cairn/platform/natsd"
)

// addNATSFlags defines the embedded server's cluster and durability flags on fs.
func addNATSFlags(fs *flag.FlagSet, o *natsd.Options) {
	fs.StringVar(&o.ServerName, "server-name", "", `this node's name in a cluster, distinct on every node (default "cairn")`)
	fs.StringVar(&o.ClusterName, "cluster-name", "", `name of the cluster, the same on every node (default "cairn" when clustered)`)
	fs.StringVar(&o.ClusterListen, "cluster-listen", "", "host:port where this node accepts the other nodes' routes; empty: not clustered")
	fs.Func("cluster-routes", "comma-separated nats://host:port of the other nodes' -cluster-listen", func(s string) error {
		o.Routes = nil
		for r := range strings.SplitSeq(s, ",") {
			if r = strings.TrimSpace(r); r != "" {
				o.Routes = append(o.Routes, r)
			}
		}
		return nil
	})
	fs.StringVar(&o.Sync, "sync", "", `when JetStream fsyncs: "always" (before each acknowledgement), a duration such as 1s, or empty for NATS's default (2m)`)
}
