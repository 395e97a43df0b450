package mqttadapter

// OnRevoked sets a function called after each things event the adapter applied; set it
// before Start.
func OnRevoked(a *Adapter, f func(event map[string]string)) { a.revoked = f }
