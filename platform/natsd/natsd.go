// Package natsd runs nats-server in-process with JetStream for the all-in-one cairn; only
// platform/cmd/cairn (and tests) import it, so that the separate services, which connect to
// NATS as clients, do not link the server (a deps test in platform/cmd enforces this).
package natsd

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures Start.
type Options struct {
	// DataDir holds JetStream's files (under DataDir/nats). Required.
	DataDir string
	// Listen is "host:port" to accept network clients on ("127.0.0.1:0" picks a free port);
	// empty accepts in-process connections only.
	Listen string
	// ServerName names this server; every node of a cluster needs its own. Default "cairn".
	ServerName string
	// ClusterName, ClusterListen (host:port for the other nodes' routes) and Routes (the
	// nats:// URLs of the other nodes' cluster listeners) make the server a node of a
	// JetStream cluster; all empty runs a single server. ClusterName defaults to "cairn".
	ClusterName   string
	ClusterListen string
	Routes        []string
	// Sync is when JetStream flushes its files to disk (fsync): "" for NATS's default (every
	// 2 minutes), a duration such as "1s", or "always" (before each acknowledgement).
	Sync string
}

// Server is a running embedded nats-server. It satisfies bus.Server: the bus connects to it
// in-process and shuts it down when it closes.
type Server struct {
	s       *server.Server
	servers int
}

// Servers is the number of servers of the cluster as configured: this one and its routes.
func (s *Server) Servers() int { return s.servers }

// Start starts nats-server in this process with JetStream storing under opts.DataDir, and
// returns it ready for connections. The caller shuts it down (or hands it to the bus).
func Start(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("starting embedded NATS: no data directory given; set -data-dir or CAIRN_DATA_DIR")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("starting embedded NATS: %w", err)
	}
	store := filepath.Join(dir, "nats")
	if err := os.MkdirAll(store, 0o750); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	sopts := &server.Options{
		ServerName: cmp.Or(opts.ServerName, "cairn"),
		JetStream:  true,
		StoreDir:   store,
		NoSigs:     true, // the process owns signals; it shuts the server down itself
		NoLog:      true,
		DontListen: opts.Listen == "",
	}
	if opts.Listen != "" {
		host, port, err := splitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("starting embedded NATS: listen address %q: %w", opts.Listen, err)
		}
		sopts.Host, sopts.Port = host, port
		if port == 0 {
			sopts.Port = server.RANDOM_PORT
		}
	}
	if err := opts.cluster(sopts); err != nil {
		return nil, fmt.Errorf("starting embedded NATS: %w", err)
	}
	if opts.clustered() {
		if err := refuseStandaloneData(store); err != nil {
			return nil, fmt.Errorf("starting embedded NATS: %w", err)
		}
	}
	if sopts.SyncAlways, sopts.SyncInterval, err = ParseSync(opts.Sync); err != nil {
		return nil, fmt.Errorf("starting embedded NATS: %w", err)
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("starting embedded NATS: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("starting embedded NATS in %s: not ready after 30s (is the directory locked by another cairn, or the port %q taken?)", store, opts.Listen)
	}
	return &Server{s: s, servers: 1 + len(sopts.Routes)}, nil
}

// InProcessConn returns a connection to the server that bypasses the network.
func (s *Server) InProcessConn() (net.Conn, error) { return s.s.InProcessConn() }

// ClientURL returns the URL other processes use to reach the server, or "" when it accepts
// in-process connections only.
func (s *Server) ClientURL() string {
	if s.s.Addr() == nil {
		return ""
	}
	return s.s.ClientURL()
}

// Shutdown stops the server and waits until it has stopped.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, errors.New("want host:port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", addr[i+1:])
	}
	return strings.Trim(addr[:i], "[]"), port, nil
}

// JetStreamReady reports whether JetStream serves: enabled and, in a cluster, current with
// an elected meta leader. The reason says what it waits for when it does not.
func (s *Server) JetStreamReady() (bool, string) {
	switch {
	case !s.s.JetStreamEnabled():
		return false, "JetStream is starting"
	case s.s.JetStreamIsClustered() && !s.s.JetStreamIsCurrent():
		return false, "waiting for the cluster to elect a JetStream meta leader"
	}
	return true, ""
}
