package natsd

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clustered reports whether the options ask for a cluster node.
func (o Options) clustered() bool {
	return o.ClusterListen != "" || len(o.Routes) > 0
}

// cluster sets the cluster options of sopts from o, or nothing for a single server.
func (o Options) cluster(sopts *server.Options) error {
	if !o.clustered() {
		if o.ClusterName != "" {
			return errors.New("-cluster-name is set but -cluster-listen and -cluster-routes are empty; give this node's cluster address and the other nodes' routes, or drop -cluster-name")
		}
		return nil
	}
	if o.ServerName == "" {
		return errors.New("a cluster node needs its own -server-name (CAIRN_SERVER_NAME), distinct on every node, for example n1, n2, n3")
	}
	if o.ClusterListen == "" {
		return errors.New("-cluster-routes is set but -cluster-listen is empty; give the host:port this node accepts the other nodes' routes on")
	}
	host, port, err := splitHostPort(o.ClusterListen)
	if err != nil {
		return fmt.Errorf("-cluster-listen %q: %w", o.ClusterListen, err)
	}
	sopts.Cluster = server.ClusterOpts{
		Name: cmp.Or(o.ClusterName, "cairn"),
		Host: host,
		Port: port,
		// A route that is down (a node restarting, or not started yet) is retried forever.
		ConnectRetries: -1,
	}
	for _, r := range o.Routes {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || u.Scheme != "nats" || u.Port() == "" {
			return fmt.Errorf("-cluster-routes: %q is not a nats://host:port URL of another node's -cluster-listen", r)
		}
		if u.Host == o.ClusterListen {
			continue // a node's own address in a list shared by every node
		}
		sopts.Routes = append(sopts.Routes, u)
	}
	return nil
}

// ParseSync reads the -sync setting: "" (NATS's default: fsync every 2 minutes), "always"
// (fsync before each acknowledgement), or a duration such as "1s" (fsync at that interval).
func ParseSync(s string) (always bool, interval time.Duration, err error) {
	switch s {
	case "":
		return false, 0, nil
	case "always":
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("-sync %q: want \"always\" or a positive duration such as 1s or 2m", s)
	}
	return false, d, nil
}

// refuseStandaloneData refuses to start a cluster node on the store of a single server:
// JetStream does not adopt a single server's streams into a cluster (a clustered server
// treats them as orphans), so the data would be lost from view, or deleted.
func refuseStandaloneData(store string) error {
	js := filepath.Join(store, "jetstream")
	streams, _ := os.ReadDir(filepath.Join(js, "$G", "streams"))
	if len(streams) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(js, "$SYS", "_js_")); err == nil {
		return nil // a cluster node's store already
	}
	return fmt.Errorf("%s holds the data of a single server (%d streams), which JetStream does not carry into a cluster; start this node on an empty -data-dir and copy the data in (see the README, growing a single node into a cluster), or start it without the cluster flags", store, len(streams))
}
