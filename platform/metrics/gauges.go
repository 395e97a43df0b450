package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// MQTT's gauges are read when scraped from every running MQTT adapter (tests run several in
// one process), each registered with AddMQTTSource.

// MQTTListeners are the listener names the connections gauge always reports.
var MQTTListeners = []string{"mqtt", "mqtts", "ws", "wss"}

// MQTTSource reports an adapter's connections by listener and its sessions' subscriptions.
type MQTTSource func() (conns map[string]int, subs int)

var (
	sourcesMu sync.Mutex
	sources   = map[*MQTTSource]bool{}
)

// AddMQTTSource adds src to the MQTT gauges until remove is called.
func AddMQTTSource(src MQTTSource) (remove func()) {
	p := &src
	sourcesMu.Lock()
	sources[p] = true
	sourcesMu.Unlock()
	return func() {
		sourcesMu.Lock()
		delete(sources, p)
		sourcesMu.Unlock()
	}
}

var (
	connsDesc = prometheus.NewDesc("cairn_mqtt_connections",
		"MQTT clients connected and authenticated now, by listener (mqtt, mqtts, ws, wss).", []string{"listener"}, nil)
	subsDesc = prometheus.NewDesc("cairn_mqtt_subscriptions",
		"MQTT subscriptions held by the sessions of connected clients now.", nil, nil)
)

type mqttCollector struct{}

func (mqttCollector) Describe(ch chan<- *prometheus.Desc) { ch <- connsDesc; ch <- subsDesc }

func (mqttCollector) Collect(ch chan<- prometheus.Metric) {
	sourcesMu.Lock()
	srcs := make([]MQTTSource, 0, len(sources))
	for p := range sources {
		srcs = append(srcs, *p)
	}
	sourcesMu.Unlock()
	conns := map[string]int{}
	subs := 0
	for _, src := range srcs {
		c, s := src()
		for l, n := range c {
			conns[l] += n
		}
		subs += s
	}
	for _, l := range MQTTListeners {
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(conns[l]), l)
	}
	ch <- prometheus.MustNewConstMetric(subsDesc, prometheus.GaugeValue, float64(subs))
}
