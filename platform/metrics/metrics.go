// Package metrics holds Cairn's Prometheus metrics, one registry per process: what the
// adapters accept, refuse and store, how long a publish takes to be stored, MQTT
// connections and subscriptions, the access cache, JetStream publish errors, HTTP requests
// by route and code, and the Go runtime and process collectors. Handler serves them in
// the Prometheus text format on /metrics.
//
// Labels are bounded: adapter is "http" or "mqtt"; protocol is the transport a message
// came over ("http", "https", "mqtt", "mqtts", "ws", "wss"); reason is one of the Reason
// constants; route is the HTTP pattern that matched (never the raw path).
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every metric of the process.
var Registry = prometheus.NewRegistry()

// Reasons a message is refused.
const (
	ReasonUnauthenticated = "unauthenticated" // no or a wrong key, token or certificate
	ReasonForbidden       = "forbidden"       // the thing is not connected to the channel
	ReasonNotFound        = "not_found"       // no such channel
	ReasonInvalid         = "invalid"         // a malformed topic or request
	ReasonTooLarge        = "too_large"       // the payload is over the limit
	ReasonUnavailable     = "unavailable"     // access could not be checked, or the store did not acknowledge
)

var (
	// Accepted counts messages that passed authorisation, by adapter and protocol.
	Accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_messages_accepted_total",
		Help: "Messages that passed authorisation and were sent to the store, by adapter and protocol.",
	}, []string{"adapter", "protocol"})
	// Refused counts messages refused, by adapter and reason.
	Refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_messages_refused_total",
		Help: "Messages refused, by adapter and reason (unauthenticated, forbidden, not_found, invalid, too_large, unavailable).",
	}, []string{"adapter", "reason"})
	// Stored counts messages the store acknowledged, by adapter and protocol.
	Stored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_messages_stored_total",
		Help: "Messages the JetStream store acknowledged, by adapter and protocol.",
	}, []string{"adapter", "protocol"})
	// StoreSeconds is the time from a publish's arrival to the store's acknowledgement.
	StoreSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cairn_publish_store_seconds",
		Help:    "Time from a publish's arrival at the adapter to the store's acknowledgement, by adapter.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"adapter"})
	// PublishErrors counts JetStream publishes that failed (no acknowledgement, an error).
	PublishErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_jetstream_publish_errors_total",
		Help: "Publishes to the JetStream store that failed or were not acknowledged in time, by adapter.",
	}, []string{"adapter"})
	// AccessCache counts the access cache's answers: hit (from the cache) or miss (asked).
	AccessCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_access_cache_lookups_total",
		Help: "Access questions answered by the adapters' cache (hit) or asked of the things service (miss).",
	}, []string{"result"})
	// HTTPRequests counts HTTP requests by route pattern and status code.
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_http_requests_total",
		Help: "HTTP requests by route (the pattern that matched; \"none\" when none did) and status code.",
	}, []string{"route", "code"})
)

func init() {
	Registry.MustRegister(Accepted, Refused, Stored, StoreSeconds, PublishErrors, mqttCollector{},
		AccessCache, HTTPRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}
