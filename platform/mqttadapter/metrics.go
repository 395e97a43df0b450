package mqttadapter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-iot/cairn/platform/metrics"
)

// The adapter's counters, resolved once per listener: publishing is the hot path.
type listenerCounters struct{ accepted, stored prometheus.Counter }

var (
	byListener    = map[string]listenerCounters{}
	storeSeconds  = metrics.StoreSeconds.WithLabelValues("mqtt")
	publishErrors = metrics.PublishErrors.WithLabelValues("mqtt")
)

func init() {
	for _, l := range metrics.MQTTListeners {
		byListener[l] = listenerCounters{
			accepted: metrics.Accepted.WithLabelValues("mqtt", l),
			stored:   metrics.Stored.WithLabelValues("mqtt", l),
		}
	}
}

// accepted counts a publish that passed authorisation on listener.
func accepted(listener string) {
	if c, ok := byListener[listener]; ok {
		c.accepted.Inc()
	}
}

// refused counts a publish refused for reason (a metrics.Reason*).
func refused(reason string) { metrics.Refused.WithLabelValues("mqtt", reason).Inc() }

// stored counts a publish on listener that the stream acknowledged, received at since.
func stored(listener string, since time.Time) {
	if c, ok := byListener[listener]; ok {
		c.stored.Inc()
	}
	storeSeconds.Observe(time.Since(since).Seconds())
}

// notStored counts a publish the stream did not store.
func notStored() {
	publishErrors.Inc()
	refused(metrics.ReasonUnavailable)
}
