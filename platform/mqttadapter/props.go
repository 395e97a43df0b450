package mqttadapter

import (
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	messagingv1 "github.com/cairn-iot/cairn/proto/cairn/messaging/v1"
)

// MQTT 5 properties travel through the bus in the protobuf Message: what a publisher set
// (user properties, content type, payload format indicator, response topic, correlation
// data, message expiry) reaches every MQTT 5 subscriber, whichever adapter instance
// delivers it. A message expiry is only sent when the publisher set one, reduced by the
// time the message spent stored; a message that expired before delivery is not delivered.

// setProperties copies the publish's MQTT 5 properties into m.
func setProperties(m *messagingv1.Message, p packets.Properties) {
	for _, u := range p.User {
		m.UserProperties = append(m.UserProperties, &messagingv1.UserProperty{Key: u.Key, Value: u.Val})
	}
	m.ContentType = p.ContentType
	m.PayloadFormat = p.PayloadFormatFlag && p.PayloadFormat == 1
	m.ResponseTopic = p.ResponseTopic
	m.CorrelationData = p.CorrelationData
	m.MessageExpiry = p.MessageExpiryInterval
}

// delivery is what the broker is told of a delivery besides its topic and payload.
type delivery struct {
	props packets.Properties
	// remaining is the message expiry left, in seconds; 0 if the message does not expire.
	remaining int64
	// origin is the client id of the publisher if it published through this adapter.
	origin string
}

// deliveryOf returns the properties to deliver m with at now; ok is false if m has expired.
func deliveryOf(m *messagingv1.Message, now time.Time) (d delivery, ok bool) {
	for _, u := range m.GetUserProperties() {
		d.props.User = append(d.props.User, packets.UserProperty{Key: u.GetKey(), Val: u.GetValue()})
	}
	d.props.ContentType = m.GetContentType()
	if m.GetPayloadFormat() {
		d.props.PayloadFormat, d.props.PayloadFormatFlag = 1, true
	}
	d.props.ResponseTopic = m.GetResponseTopic()
	d.props.CorrelationData = m.GetCorrelationData()
	if e := int64(m.GetMessageExpiry()); e > 0 {
		age := now.Sub(time.Unix(0, m.GetCreated())) / time.Second
		d.remaining = e - int64(age)
		if d.remaining <= 0 {
			return delivery{}, false
		}
		d.props.MessageExpiryInterval = uint32(d.remaining)
	}
	return d, true
}

// applyDelivery gives the broker's packet for a delivery its properties and expiry. The
// broker's own maximum message expiry is off (New), so a delivery without one carries none.
func applyDelivery(pk *packets.Packet, d delivery) {
	pk.Properties.User = d.props.User
	pk.Properties.ContentType = d.props.ContentType
	pk.Properties.PayloadFormat, pk.Properties.PayloadFormatFlag = d.props.PayloadFormat, d.props.PayloadFormatFlag
	pk.Properties.ResponseTopic = d.props.ResponseTopic
	pk.Properties.CorrelationData = d.props.CorrelationData
	pk.Properties.MessageExpiryInterval = d.props.MessageExpiryInterval
	if d.origin != "" {
		pk.Origin = d.origin // the broker skips it for subscriptions with No Local
	}
	pk.Expiry = 0 // no expiry (a negative one means "send when quota frees" to the broker)
	if d.remaining > 0 {
		pk.Expiry = pk.Created + d.remaining
	}
}
