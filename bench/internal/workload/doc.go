// Package workload is the one copy of every workload that multiproc is
// measured on, and of its C, Python and in-process Go counterparts: the
// `go test -bench ./bench` benchmarks and `go run ./bench/compare` both
// run these, so a figure in one is the figure in the other.
//
// A Workload (All, Family, Match) is one thing measured the same way by
// every implementation it lists: one op is the same unit of work for all
// (a Lock+Unlock pair, one ping-pong round trip, one increment shared by
// the processes). An Impl is one system's implementation; Measure runs n
// ops of it and returns the ns per op it measured itself, never counting
// the start-up of its processes. An Impl may be shown by several
// workloads (the raw futex ping-pong beside every ping-pong of a
// placement) and is measured once, in its Home workload.
//
// # How each system is run
//
//   - multiproc, through its public API only (shm, sem, barrier, value), so
//     the workloads keep measuring whatever the implementation becomes. A
//     single-process workload (uncontended pairs, creation) is timed in the
//     measuring process. A multi-process one runs in Go workers: this very
//     binary re-executed, which is why main and TestMain call Main first.
//     The measuring process creates the objects (tracked, as any program's)
//     and removes them afterwards; workers only open them. The protocol is
//     at the top of workers.go.
//   - C: the programs in c/, embedded, written to the Env's directory and
//     built with gcc on first use (Env.Prebuild builds them all at once).
//     Each forks its own workers, runs the same protocol (c/common.h) and
//     prints its ns/op.
//   - Python: py/mpbench.py, embedded and run with the interpreter python3
//     resolves to, does the same with multiprocessing's spawn context (the
//     Pool's rows also with fork and forkserver).
//   - The Pool and Process: timed in the measuring process, the pool's
//     parent, whose workers package pool starts (this binary re-executed:
//     Main is pool.Init). The pool is started and warmed before the timer
//     starts, except where its start is the op. A Map's op is one item; a
//     measurement runs whole Maps (Result.N says how many items).
//   - Go: the in-process floors (sync.Mutex, channels, a goroutine pool),
//     timed in the measuring process.
//
// Every multi-process implementation of every system follows the same
// steps: the workers are started with their CPU affinity, each says it is
// ready, all are released together, each stamps CLOCK_MONOTONIC before
// its first op and after its last, and the ns/op is (latest end - earliest
// start) / n. So a Go, a C and a Python figure differ by the mechanism
// measured, not by the harness.
//
// # Placements
//
// The ping-pongs run in three placements (Placement): any (no affinity),
// one (every worker on the first CPU this process may use) and two (worker
// 0 on the first, worker 1 on the second). The affinity is set before the
// worker's first instruction (reexec.Cmd.Affinity: the forking thread is
// pinned for the fork, so the child inherits the mask through exec, as
// with taskset(1)), so a Go worker's runtime sets GOMAXPROCS from it: 1 in
// the one and two placements. This is what a user who pins one process per
// core gets, and it is not what pinning one thread of a running process
// gives (GOMAXPROCS stays at the CPU count). Each Go worker reports its
// GOMAXPROCS and CPUs (Result.Workers). C and Python workers pin
// themselves as they start.
//
// # Adding a workload
//
// Add it to the catalog (catalog.go) with an impl per system; a
// multi-process multiproc impl is a setup (run in the measuring process,
// it creates the objects and names them in args) and a role registered in
// init (run in each worker, it opens them and returns the timed loop).
//
// # Caveats
//
//   - GOMAXPROCS in the environment reaches the Go workers and overrides
//     what their affinity would give.
//   - The workers of one measurement share the machine with whatever else
//     runs; on a small shared VM, compare ratios within one run.
package workload
