// Package version holds what a Cairn binary knows of its own release. The release pipeline
// sets both variables with -ldflags -X from the one place that knows them (the release
// record); a plain `go build` leaves the defaults.
package version

// Version is the release version, for example "v0.1.0" or "v0.1.0-3-gabc1234-dirty".
var Version = "dev"

// Commit is the full hash of the source commit the binary was built from.
var Commit = "unknown"
