package messages

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// countingJS answers stream info for MESSAGES with one channel's count and the given
// cluster view; everything else of jetstream.JetStream is left unimplemented.
type countingJS struct {
	jetstream.JetStream
	cluster *jetstream.ClusterInfo
}

func (j countingJS) Stream(context.Context, string) (jetstream.Stream, error) {
	return countingStream{cluster: j.cluster}, nil
}

type countingStream struct {
	jetstream.Stream
	cluster *jetstream.ClusterInfo
}

func (s countingStream) Info(context.Context, ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	return &jetstream.StreamInfo{Cluster: s.cluster, State: jetstream.StreamState{Subjects: map[string]uint64{"channels.c.a": 7}}}, nil
}

// A count from a replica that sees no leader (nats-server lets one answer stream info after
// a while without a leader) is not the stream's count: the reader is behind, not short.
func TestStoredRefusesALeaderlessCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster *jetstream.ClusterInfo
		behind  bool
	}{
		{"single server", nil, false},
		{"the leader", &jetstream.ClusterInfo{Name: "c", Leader: "n1"}, false},
		{"a replica without a leader", &jetstream.ClusterInfo{Name: "c"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := NewReader(countingJS{cluster: tc.cluster}).stored(context.Background(), "c")
			if tc.behind {
				if !errors.Is(err, ErrBehind) {
					t.Errorf("stored = %d, %v; want ErrBehind", n, err)
				}
				return
			}
			if err != nil || n != 7 {
				t.Errorf("stored = %d, %v; want 7", n, err)
			}
		})
	}
}
