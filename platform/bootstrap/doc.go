// Package bootstrap is Cairn's bootstrap service, in the line of Mainflux's: a gateway is
// flashed with an external id and key (its MAC address and a factory secret, say), and at
// first boot it asks the platform who it is, which channels it uses and what its
// configuration is.
//
// Configs, by their owner ("Authorization: Bearer <token>" from POST /tokens):
//
//	POST   /things/configs         {"external_id","external_key","thing_id","name","channels":[ids],
//	                               "content","client_cert","client_key","ca_cert"}
//	                               -> 201 config, Location: /things/configs/<thing id>
//	GET    /things/configs?offset=0&limit=10&state=1&name=gw
//	                               -> 200 {"total","offset","limit","configs":[...]}
//	GET    /things/configs/<thing id>             -> 200 config
//	PUT    /things/configs/<thing id>             {"name","content"} -> 200 config (both replaced)
//	PUT    /things/configs/connections/<thing id> {"channels":[ids]} -> 200 config
//	DELETE /things/configs/<thing id>             -> 204 (the thing and its connections stay)
//	PUT    /things/state/<thing id>               {"state":1} -> 200 config
//
// Without thing_id, a thing named like the config is created for it; with one, it must be
// the owner's. Channels must be the owner's. The service calls the things service's HTTP API
// with the owner's token for all of this (-things-url; in the all-in-one, in-process), so
// the things service checks and logs every change. External ids are unique (409); external
// keys are stored as bcrypt hashes (so at most 72 bytes). The content holds at most 64 KiB,
// each piece of TLS material 16 KiB; a refused request changes nothing and appends no event.
// A config is created inactive: the thing is not connected to its channels until PUT
// /things/state sets 1, and 0 disconnects it again, so a gateway publishes only while
// active. Changing the channels of an active config connects and disconnects accordingly.
//
// Bootstrap, by the gateway:
//
//	GET /things/bootstrap/<external id>  Authorization: Thing <external key>
//	    -> 200 {"thing_id","thing_key","channels":[{"id","name","metadata"}],"content",
//	            "client_cert","client_key","ca_cert"}  (the last three when set)
//	GET /things/bootstrap/secure/<external id>  Authorization: Thing <hex of sealed key>
//	    -> 200 the same JSON, sealed, as application/octet-stream
//
// Unknown external id: 404; wrong key: 401. Both variants append a thing.bootstrap event
// with success 1 or 0.
//
// # The secure variant
//
// For constrained gateways on plain HTTP, the operator sets a 32-byte key (-bootstrap-key,
// hex; `openssl rand -hex 32`) and flashes it into the gateways. Sealing is AES-256-GCM: a
// sealed message is a random 12-byte nonce followed by the ciphertext and the 16-byte tag,
// and the additional data is the external id (an answer for one gateway does not open as
// another's). The gateway seals its external key the same way and sends the hex in the
// Authorization header; the answer is sealed for it. Seal and Open do both in Go. Without a
// key the secure path answers 501.
//
// # Events
//
// Every change appends to "events.bootstrap", in Mainflux's format (string fields, only
// those that apply, "timestamp" in Unix seconds): config.create {thing_id, owner, name,
// channels (comma-separated ids), external_id, content}, config.update {thing_id, name,
// content}, config.remove {thing_id}, thing.bootstrap {external_id, success}, thing.state_change
// {thing_id, state}, thing.update_connections {thing_id, channels}.
//
// The service follows "events.things" (a durable consumer shared by its instances): a
// removed thing removes its config (config.remove), a removed channel leaves every config
// that listed it (thing.update_connections), a channel's new name and metadata are copied
// into the configs. State lives only in the key-value bucket cairn_bootstrap (package bus).
package bootstrap
