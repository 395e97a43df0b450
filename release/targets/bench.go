package targets

import (
	"context"
	"os"
	"strings"
)

// Bench measures the release pipeline (cold and warm release against the bare go build,
// image assembly against gzip, image sizes) and the all-in-one platform (HTTP and MQTT
// publish throughput and latency into the store), and writes dist/bench/report.md and
// report.json (kept by later releases, see package release/bench). It runs `<pinned go> run
// ./release/bench/cmd/cairn-bench`, so the assembler it times is compiled as a release
// compiles it. CAIRN_BENCH_FLAGS, if set, adds flags (for example "-only platform
// -http-messages 5000"); see the command's doc. A MISS is a finding, not a failure: the
// target fails only when the bench cannot run or the report cannot be written.
func Bench(ctx context.Context) error {
	return runPinnedGo(ctx, "cairn-bench", func(goroot string) []string {
		return benchArgs(goroot, os.Getenv("CAIRN_BENCH_FLAGS"))
	})
}

// benchArgs are the arguments of `go` that run the bench with the pinned toolchain, plus
// the extra flags (split on white space).
func benchArgs(goroot, extra string) []string {
	args := []string{"run", "./release/bench/cmd/cairn-bench", "-goroot", goroot}
	return append(args, strings.Fields(extra)...)
}
