// Package bench holds multiproc's contention and latency benchmarks, run
// with `go test -bench . ./bench/`. Output is benchstat-friendly; compare
// ratios inside one run (this project's machines are small, noisy VMs).
package bench
