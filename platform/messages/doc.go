// Package messages is what Cairn knows of channel messages on the bus: how they are named
// (NATS subjects channels.<id>.messages[.<subtopic>], MQTT topics
// channels/<id>/messages[/<subtopic>]), how an adapter asks whether a thing may publish,
// how it publishes them through JetStream, and how they are read back.
//
// The store is the JetStream stream MESSAGES itself (created by platform/bus): an adapter's
// publish is acknowledged only once the stream stored the message, so there is no separate
// consumer that copies messages elsewhere and can fall behind or lose them. The reader
// (Service, GET /channels/{id}/messages) reads the stream through a short-lived consumer
// filtered on the channel, oldest message first. Retention is the stream's.
//
// Payloads are opaque bytes. In JSON a payload is written as text when it is valid UTF-8, and
// as standard base64 with "encoding":"base64" otherwise, so a reader can always recover the
// exact bytes.
package messages
