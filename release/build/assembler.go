package build

import "strings"

// compileKnobs are the variables that change how a Go program is compiled: AssemblerEnv
// drops the caller's and sets its own.
var compileKnobs = map[string]bool{
	"GOOS": true, "GOARCH": true, "GOARM": true, "GOAMD64": true, "GO386": true,
	"CGO_ENABLED": true, "GOTOOLCHAIN": true, "GOFLAGS": true, "GOEXPERIMENT": true,
	"GODEBUG": true, "GOWORK": true, "CC": true, "CXX": true, "GOROOT": true,
}

// AssemblerEnv is the one environment cairn-release is compiled and run with (`go run
// ./release/cmd/cairn-release`), by mage's targets, the audit's rebuild and the bench: env
// without the variables that change how a program is compiled, then those set explicitly:
// the host platform, static, the module graph read-only, -trimpath (with the release build's
// flags, the standard library and the modules both share compile once into GOCACHE for the
// assembler and the linux/amd64 binaries), and GOTOOLCHAIN=toolchain: "local" where the go
// that runs is the pinned one, the pinned version where a host go must switch to it (the
// audit's rebuild of another commit). The rest of env (SOURCE_DATE_EPOCH, COSIGN_*, PATH,
// the caches) passes: cairn-release is the edge that reads it.
func AssemblerEnv(env []string, toolchain string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !compileKnobs[k] {
			out = append(out, kv)
		}
	}
	return append(out, "CGO_ENABLED=0", "GOTOOLCHAIN="+toolchain, "GOFLAGS=-mod=readonly -trimpath", "GOWORK=off",
		"GOEXPERIMENT=", "GODEBUG=")
}
