// Package bench measures multiproc against Python's multiprocessing, C and
// the in-process floor, in two forms that run the same workload code
// (bench/internal/workload):
//
//	go test -run '^$' -bench . ./bench/        # benchstat-friendly
//	go run ./bench/compare --quick --svg cmp.svg  # one table, one chart
//
// # Workloads
//
// Each family is a benchmark, each workload and implementation a
// sub-benchmark, so benchstat can compare commits:
//
//	BenchmarkPingPong/obj=Event/cpus=two/impl=multiproc
//	BenchmarkPingPong/obj=Event/cpus=two/impl=c-futex
//
//	Uncontended  op=Lock, RLock (outermost), RLockNested, Semaphore: one
//	             acquire+release pair, nobody else around
//	Counter      procs=2, 4: one increment of a plain shared counter under
//	             the lock, the processes sharing the increments
//	PingPong     obj=Lock (two handoffs to a process blocked in Lock),
//	             Condition, Event, Semaphore, Barrier (one cycle of 2),
//	             Pipe: one round trip between two processes, in three
//	             placements, cpus=any, one, two
//	Barrier      procs=4: one cycle of four processes
//	Value        op=Add (lock-free), Update (locked); procs=1, 2, 4
//	Create       obj=Segment4KiB, Segment1MiB, Lock, Semaphore, Value:
//	             create, close and remove one object
//	Open         obj=Segment1MiB: open an existing object and close it
//	Queue        items=int64, 64B, struct, 1MiB; procs=1x1, 2x2: one item
//	             from producer to consumer processes, batched and not
//	Pool         op=StartClose/workers=2, 4: pool.New and Close;
//	             op=Map/items=1e5, 1e6 (chunksize=default) and items=1e4
//	             (chunksize=1): one item of a Map of x*x on 2 workers;
//	             op=Apply: one task's round trip; op=ProcessStartWait:
//	             pool.Start of a function that does nothing, and Wait
//
// The implementations (impl=) are multiproc's (multiproc, and variants
// such as multiproc-spin0), the in-process floors (go-mutex, go-chan,
// go-pool), the C programs (c-pthread, c-pthread-robust, c-sem, c-futex,
// c-pipe, c-seqpacket, c-shm, ...; built with gcc at run time) and
// python (multiprocessing, spawn context; the Pool's rows are
// python-fork, python-spawn and, for start-up, python-forkserver, since
// Python's start methods differ by a hundredfold there). The Pool's go-pool is an
// in-process pool of GOMAXPROCS goroutines running the same registered
// function's signature over the same chunks. Without gcc or python3 their
// rows skip with a message. Each reports the ns/op it timed itself:
// worker start-up and builds are not counted.
//
// The placements: cpus=any leaves the processes to the scheduler;
// cpus=one starts both on the first CPU; cpus=two starts worker 0 (the
// side that starts each round trip) on the first CPU and worker 1 on the
// second. The affinity is set when each process starts, as taskset(1)
// does, so a Go worker's GOMAXPROCS is 1 in the last two: the setting of
// a user who pins one process per core, where a process that can run on
// one CPU must still wait well for a peer on another.
//
// # The comparison
//
// `go run ./bench/compare` runs every implementation of the selected
// workloads (--only PATTERN, --placements any,one,two), calibrated to a
// time per repetition, several repetitions each, interleaved: repetition
// 1 of every implementation, then repetition 2 of every implementation,
// so that a change in the machine's load falls on all systems alike. It
// prints:
//
//   - a header: the command, the date, the CPU model and count, the
//     kernel, the Go, Python and gcc versions, and the load average before
//     and after the run (on a shared machine, the figure to look at first);
//   - one line per implementation of each workload: the median of the
//     repetitions, their spread (median absolute deviation, as a share of
//     the median), and "ours÷": multiproc's median over this row's, so
//     0.5 means multiproc takes half the time and 3 three times as long;
//   - what one op is in each family, and notes (skipped systems).
//
// --json prints all of it, with every repetition's figure, and --svg FILE
// draws it: per workload, one bar per implementation on one log scale of
// time per op, with multiproc's ratio to every other bar written on
// multiproc's bar. --quick takes about a minute on two cores.
//
// A row can show an implementation measured in another workload (the raw
// futex ping-pong beside every ping-pong of its placement, sync.Mutex
// beside the RLock): it is measured once per repetition, and go test names
// it under that home workload only.
//
// # Caveats
//
//   - Ratios are only meaningful within one run: the project's machines
//     are small shared VMs. Read the load average in the header.
//   - The raw futex and pthread ping-pongs never spin, so across two idle
//     CPUs they pay the VM's wake-up latency (tens of µs) that a spinning
//     waiter avoids; on one CPU a spin only delays the peer.
//   - GOMAXPROCS set in the environment reaches the Go workers and
//     overrides what their affinity gives.
package bench
