// Compare runs the same workloads in multiproc, Python's multiprocessing
// and C, interleaved in one run, and prints one table: for each workload,
// each implementation's median time per op, its spread, and multiproc's
// time as a multiple of it. The workloads, and what one op of each is,
// are those of `go test -bench ./bench` (package bench documents both).
//
// Usage:
//
//	go run ./bench/compare [flags]
//
// The flags are:
//
//	--quick            a run of about a minute: 3 repetitions of ~20 ms per
//	                   implementation (default: 5 of ~200 ms)
//	--only PATTERN     only the workloads whose name matches the regular
//	                   expression, e.g. 'PingPong/obj=Event' or '^Counter/'
//	--placements LIST  the CPU placements of the ping-pongs, any of
//	                   any,one,two (default all three)
//	--json             print the results as JSON instead of the table
//	--svg FILE         also write the chart to FILE
//	--from FILE        measure nothing: show what a --json run saved in FILE
//	--extra            also run the variants (spin 0, Persistent,
//	                   LockContext, TryAcquire, ...) that go test always runs
//	--reps N, --target D, --ops N
//	                   repetitions, the time each aims at, or a fixed count
//	                   of ops instead of calibrating to --target
//
// It needs nothing but Go: C rows need gcc and Python rows python3, and
// each missing tool only removes its rows, with a note. The exit status is
// 1 if a measurement failed, 2 for bad flags.
package main
