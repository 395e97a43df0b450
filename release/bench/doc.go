// Package bench measures Cairn against its performance targets and writes the report
// (Report, as dist/bench/report.md and report.json): the release pipeline (Pipeline), image
// assembly (Assemble) and sizes (Sizes); cairn-bench drives it and platform/loadgen. No test
// here asserts a time.
package bench
