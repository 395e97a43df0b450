// Package mqttadapter is Cairn's MQTT endpoint: an MQTT 3.1.1 and 5 broker (mochi-mqtt) whose
// clients are things.
//
//   - Listeners (listeners.go, component.go): plaintext MQTT (1883), MQTT over TLS (8883)
//     with the process's certificate, and MQTT over WebSocket (subprotocol "mqtt") on a path
//     of the HTTP listener (ws, or wss with TLS).
//
//   - CONNECT: username = thing id, password = thing key, checked with the things service over
//     the bus; a wrong pair is refused with "bad username or password". Over TLS with a client
//     CA, a verified client certificate identifies the thing instead (Subject CN = thing id;
//     identity.go). A client id already used by a session of another thing is refused ("not
//     authorized"), so that no thing inherits another's session.
//
//   - PUBLISH and SUBSCRIBE only on channels/<channel id>/messages[/<subtopic>] and only where
//     the thing is connected to the channel (asked per PUBLISH and per SUBSCRIBE filter; a
//     filter may use + and # after "messages", never in place of the channel id). Refused
//     publishes are dropped (MQTT 3.1.1 QoS 0), answered with "not authorized" (MQTT 5) or end
//     the connection (MQTT 3.1.1 QoS 1 and 2), as the MQTT specifications say.
//
//   - An accepted PUBLISH becomes one messagingv1.Message (protocol "mqtt") stored through
//     JetStream in the MESSAGES stream before the broker acknowledges it (QoS 1 and 2). The
//     broker never delivers a client's PUBLISH to other clients itself: every delivery to MQTT
//     subscribers comes from one ordered consumer on MESSAGES (new messages only), so a message
//     reaches each subscriber exactly once whichever adapter (HTTP or MQTT, this instance or
//     another) accepted it, and only if it was stored. That consumer runs only while some
//     session has a subscription (started before the first SUBACK, stopped within 10 s of
//     the last subscription's end; after a restart with restored sessions, it resumes after
//     the last message the previous run gave the broker).
//
//     Each subscriber receives a message at the lower of the publisher's QoS and its
//     subscription's (QoS 2 end to end where both asked for it; HTTP publishes count as QoS
//     1), with the publisher's MQTT 5 properties (props.go): user properties, content type,
//     payload format indicator, response topic, correlation data, and a message expiry only
//     if the publisher set one (what is left of it; an expired message is not delivered).
//
//     No Local is honoured for publishes through this adapter (Message.origin). Shared
//     subscriptions, $share/<group>/<filter>, pass the filter's access check and load-balance
//     each message to one member (shared.go).
//
//     Sessions (clean session 0, MQTT 5 session expiry) outlive their connection: QoS 1 and
//     2 messages are queued for them after the same access check, up to bounds, and sent on
//     reconnect (session.go, which says what is not guaranteed). They are persisted in
//     JetStream and survive a restart of the instance (persist.go).
//
//     Retained messages are stored in JetStream and shared by every instance (retained.go).
//
//   - QoS 0 and 1 publishes are sent to JetStream without waiting, up to 256 per connection
//     in flight (see acker); each PUBACK is sent, in the order of the PUBLISHes, once the
//     stream has acknowledged the message. QoS 2 publishes are stored before the broker's
//     PUBREC.
//
//   - Wills pass the checks of a PUBLISH at CONNECT (else "not authorized") and again when
//     due, and are stored through JetStream like a PUBLISH before any delivery (will.go).
//
//   - CONNECT and DISCONNECT of an authenticated thing append events to events.mqtt with the
//     fields thing_id, timestamp (Unix nanoseconds), event_type (connect, disconnect) and
//     instance.
//
//   - Access answers are cached (access.Cache: grants up to 10 s, refusals up to 2 s), and
//     the things events below drop the answers they change before anything else is done.
//
//   - Revocation: the adapter follows the things service's events (events.things, new events
//     only). thing.disconnect drops the thing's subscriptions on that channel, channel.remove
//     drops every subscription on the channel, thing.remove drops the thing's subscriptions
//     and disconnects its clients. A subscription granted in the instant before the event is
//     handled can survive it; the next SUBSCRIBE or PUBLISH is refused in any case.
//
//   - Limits: a will with an empty payload is refused as a protocol error by the broker
//     library; sessions do not move between the instances of a cluster.
package mqttadapter
