// Package bench measures Cairn against its performance targets (issue 8) and writes the
// report: `go tool mage bench` runs release/bench/cmd/cairn-bench, which uses this package.
//
// What is measured, and against what (every target is a ratio or bound within one run on
// the machine at hand, and every figure is reported next to it, PASS or MISS):
//
//   - Release pipeline (Pipeline). In a local git clone of HEAD: a newcomer's cold release
//     (empty GOCACHE, empty layer, binary and tool caches; the whole release command: go run
//     of the assembler, lock check, builds, images, signing, archives and packages) against
//     the floor, the bare `go build` of the same 14 binaries with the same toolchain, flags
//     and environment (package release/build), cold: ratio within 1.15x (issue 8) and 1.5x
//     (issue 17). Then the same release again with nothing changed: under 2 s. The output lines of each release are timed as they arrive
//     (Timeline), which shows where the time goes.
//   - Image assembly (Assemble), in a child process so that its peak memory (VmHWM) is the
//     assembler's own: MB/s of binary turned into layers, against `gzip -6` on the same layer
//     tars, timed in the same run: faster.
//   - Image sizes (Sizes): per image, the overhead of layer + config + manifest + its share
//     of the index over the binary alone compressed by the same compressor: under 4 KiB;
//     and binary, layer and total beside those of the images before issue 17 (a pinned
//     commit built by its own release command): a separate service's image at most half.
//   - The platform: HTTP and MQTT publish throughput into the store and
//     publish-to-acknowledgement latency percentiles, on the all-in-one built from the tree,
//     100-byte messages, loopback only, bounded in count and time: 20,000 HTTP or 100,000
//     MQTT messages stored per second; then the same with TLS and on a three-node cluster.
//     The all-in-one is started and loaded by package platform/loadgen (net/http and paho
//     clients); the command drives it, and this package only reports the results (Figure,
//     Percentile, GoroutineSummary). Where a target is missed, a CPU profile of the
//     all-in-one (a pprof listener added only to the bench's build, with go build -overlay)
//     or of the assembler is taken and its top functions go into the report.
//
// The report goes to dist/bench/report.md and report.json. A release builds a whole new
// dist/ in a staging directory and swaps it in, removing the old tree, but moves dist/bench
// across (record.BenchDir), and dist/inputs.json does not list it, so a report neither
// disappears with the next release nor makes dist/ look changed. Both files are written to a
// temporary name and renamed.
//
// No test here asserts a time: the tests check the report's formatting and PASS/MISS logic
// with fake numbers, and the measuring code on tiny inputs; the testing.B benchmarks time
// image assembly. The load generator's tests are in platform/loadgen.
package bench
