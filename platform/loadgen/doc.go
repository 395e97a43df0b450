// Package loadgen is the platform's load generator: it starts the all-in-one cairn binary
// on loopback (one node, a three-node cluster, or with TLS), sets up a user, a thing and a
// channel per protocol through the HTTP API, and publishes bounded loads over HTTP
// (net/http) and MQTT (paho, QoS 1, a window of publishes in flight per connection),
// reporting acknowledgements, publish-to-acknowledgement latencies, when the store held
// them all, and the CPU the generator, the platform and the machine used meanwhile.
package loadgen
