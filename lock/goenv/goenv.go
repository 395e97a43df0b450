// Package goenv is the environment of every child go command Cairn runs, built from
// nothing: Build (a release binary), Assembler (cairn-release itself; nix/build.sh exports
// the same), Tool (package lock's go commands), and the one Passthrough list. It imports
// nothing of Cairn.
package goenv

import (
	"runtime/debug"
	"slices"
	"strings"
)

// Passthrough lists the only variables of the caller's environment a child go command sees:
// where the go command finds itself, its caches and the network. None changes what is
// built: the caches are content-addressed, downloads are checked against go.sum, and every
// path is trimmed (-trimpath). GOPATH is here because it places the default module cache
// (GOPATH/pkg/mod): without it, a user who sets only GOPATH would download every module again.
var Passthrough = []string{
	"PATH", "HOME", "GOPATH", "GOCACHE", "GOMODCACHE",
	"GOPROXY", "GONOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOINSECURE",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
}

// Pick returns the Passthrough variables that lookup (os.LookupEnv at the edge) has, as
// "KEY=value", in Passthrough's order.
func Pick(lookup func(string) (string, bool)) []string {
	var env []string
	for _, k := range Passthrough {
		if v, ok := lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// passthrough returns the entries of kv whose name is in Passthrough, in kv's order.
func passthrough(kv []string) []string {
	var out []string
	for _, s := range kv {
		if k, _, _ := strings.Cut(s, "="); slices.Contains(Passthrough, k) {
			out = append(out, s)
		}
	}
	return out
}

// Build returns the complete environment of a release binary's `go build` for the target
// whose variables are target (GOOS, GOARCH and the level variable; none: the host's), then
// the entries of pass that Passthrough names (anything else in pass is dropped).
func Build(target, pass []string) []string {
	env := slices.Clone(target)
	env = append(env,
		"CGO_ENABLED=0",         // static binaries, no host C toolchain in the output
		"GOTOOLCHAIN=local",     // the pinned binary runs itself; never switch or download
		"GOFLAGS=-mod=readonly", // go.mod/go.sum are inputs, never rewritten by a build
		"GOEXPERIMENT=",         // host experiments would change the compiler's output
		"GODEBUG=",              // likewise for runtime/compiler settings
		"GOFIPS140=",            // the FIPS module selection is compiled in
		"CC=", "CXX=",           // no C compiler leaks in, even if cgo were turned on
		"GOWORK=off", // a go.work above the tree must not change the module graph
		// Nor the user's go env file: an empty variable does not override a value written
		// there (`go env -w`), so without GOENV=off, GOEXPERIMENT= would not blank one. A
		// setting meant for a release's go commands (a proxy, say) is an exported variable.
		"GOENV=off",
	)
	return append(env, passthrough(pass)...)
}

// compileKnobs are the variables that change how a Go program is compiled: Assembler drops
// the caller's and sets its own (or, for the target and its level, leaves the host's default).
var compileKnobs = []string{
	"GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64",
	"GORISCV64", "GOWASM", "CGO_ENABLED", "GOTOOLCHAIN", "GOFLAGS", "GOEXPERIMENT", "GODEBUG",
	"GOFIPS140", "GOWORK", "GOENV", "CC", "CXX", "GOROOT",
}

// Assembler is the one environment cairn-release is compiled and run with (`go run
// ./release/cmd/cairn-release`), by mage's targets, the audit's rebuild and the bench, and
// the one nix/build.sh exports: env without compileKnobs, then those set explicitly: the
// host platform, static, the module graph read-only, -trimpath (with the release build's
// flags, the standard library and the modules both share compile once into GOCACHE for the
// assembler and the linux/amd64 binaries), and GOTOOLCHAIN=toolchain: "local" where the go
// that runs is the pinned one, the pinned version where a host go must switch to it (the
// audit's rebuild of another commit). The rest of env (SOURCE_DATE_EPOCH, COSIGN_*, PATH, the
// caches) passes: cairn-release is the edge that reads it, and builds with Build.
func Assembler(env []string, toolchain string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(compileKnobs, k) {
			out = append(out, kv)
		}
	}
	return append(out, AssemblerFixed(toolchain)...)
}

// AssemblerFixed is the part of Assembler that does not come from the caller.
func AssemblerFixed(toolchain string) []string {
	return []string{"CGO_ENABLED=0", "GOTOOLCHAIN=" + toolchain, "GOFLAGS=-mod=readonly -trimpath",
		"GOWORK=off", "GOENV=off", "GOEXPERIMENT=", "GODEBUG=", "GOFIPS140="}
}

// Tool returns the environment of a go command that builds no release binary (package
// lock's: module downloads, go env, go mod edit): the host go does the work and never
// switches, no go.work and no go env file, GOFLAGS=goflags, then the entries of pass that
// Passthrough names.
func Tool(goflags string, pass []string) []string {
	env := []string{"GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off", "GOFLAGS=" + goflags}
	return append(env, passthrough(pass)...)
}

// Describe returns env without the Passthrough variables, space-separated: what of an
// environment is the same for every caller on every machine.
func Describe(env []string) string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(Passthrough, k) {
			out = append(out, kv)
		}
	}
	return strings.Join(out, " ")
}

// Compiled describes how a program was compiled, from its build information
// (debug.ReadBuildInfo): the Go version and the build settings, in the order the go command
// records them (-trimpath, -ldflags and -tags when given, CGO_ENABLED, GOOS, GOARCH and the
// level variable, GOEXPERIMENT when set), without those that name the host rather than the
// build: the version control stamp (vcs.*) and cgo's compiler flags (CGO_CFLAGS and the like).
func Compiled(bi *debug.BuildInfo) string {
	out := []string{bi.GoVersion}
	for _, s := range bi.Settings {
		if s.Key == "vcs" || strings.HasPrefix(s.Key, "vcs.") ||
			(strings.HasPrefix(s.Key, "CGO_") && strings.HasSuffix(s.Key, "FLAGS")) {
			continue
		}
		out = append(out, s.Key+"="+s.Value)
	}
	return strings.Join(out, " ")
}
