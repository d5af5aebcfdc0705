// Package pool gives Go programs what Python's multiprocessing gives Python
// programs above the primitives: Queue[T], JoinableQueue[T] and Pipe[T]
// between processes, Process for running a registered function in a child
// of its own, and Pool for mapping one over worker processes.
//
//	func main() {
//		pool.Init() // first: in a worker this serves, and never returns
//		p, err := pool.New(pool.Workers(4))
//		...
//		defer p.Close()
//		out, err := square.Map(ctx, p, xs)
//	}
//
//	var square = pool.Register(func(ctx context.Context, x int) (int, error) { return x * x, nil })
//
// # Processes are this program, started again
//
// Go cannot fork a running program, so a child — a Process, a Pool's
// worker — is this binary re-executed in a role (internal/reexec), and
// pool.Init, the first line of main, is where it takes up that role and
// never returns: the Go form of Python's if __name__ == "__main__" guard.
// Functions cross as names: Register records one during package
// initialization, which every process of the program runs alike (see
// Registration at Register). Arguments and results cross in the binary
// codec of internal/codec; shared objects (Queue, Conn, and sem, barrier,
// value and array handles) cross as their names and arrive open.
//
// # How a Pool moves tasks
//
//	                         parent process
//	caller goroutines                                    one reader goroutine
//	 f.Map / Imap / Apply                                 per worker
//	     │  cut into chunks, arguments encoded               ▲
//	     ▼                                                   │ results,
//	┌──────────────────── engine (one mutex) ──────────────┐ │ deliveries
//	│ pending chunks → a free worker, at most 2 ahead each │─┘
//	│ task table: which worker holds which chunk           │
//	│ worker table: pid, state, tasks, busy/idle, restarts │
//	└───────┬─────────────────────────────────────▲────────┘
//	        │ msgChunk                            │ msgResults (batches)
//	 ═══════╪═════ duplex Pipe per worker ════════╪════════════ shared memory
//	        ▼                                     │
//	worker: run the chunk's tasks in order ───────┘
//	        progress page (memfd): chunk, task started, task finished;
//	        the calls the parent cancelled
//
// Nothing that holds the engine's mutex waits: a chunk goes straight into
// the worker's ring when it has room (else a writer goroutine sends it),
// and the reader delivers results to the call's mailbox, from which the
// caller decodes them. Apply's round trip thus passes one goroutine of the
// parent besides the caller's.
//
// A task is in one of these states (the engine's task table):
//
//	pending     in a chunk waiting for a worker
//	sent        in a chunk a worker holds, not yet reached
//	running     the worker's progress words say it started, not finished
//	finished    ran; its result may still be in the worker's batch
//	delivered   its outcome is in its call's mailbox (the end)
//
// and a worker slot in one of these (the worker table):
//
//	starting    its process runs the Initializer; no tasks yet
//	ready       takes chunks
//	retiring    said it will exit (MaxTasksPerChild, MemoryLimit) or was
//	            told to (Close): no more chunks
//	gone        its process has exited and its pipe is drained; the slot
//	            starts a fresh process unless the pool is stopping
//
// When a worker is gone, its progress words decide each task it held: the
// running one failed with it (a *WorkerDiedError wrapping ErrWorkerDied,
// with the pid and how it died, or a *TaskError wrapping ErrTimeout after
// a hard timeout; under RetryOnWorkerDeath it runs again elsewhere, and
// under StopOnWorkerDeath the pool stops); finished ones whose results
// were lost with it run again; ones it never reached go to another worker.
// No call waits for a dead worker: Python's Pool hangs on one for ever
// (CPython gh-66587), and ProcessPoolExecutor breaks the whole pool.
//
// # Calls
//
// Map returns every result in order, with a *MapError listing the tasks
// that failed; Imap and ImapUnordered read an iter.Seq lazily, within a
// window, so an endless input runs in bounded memory (Python's imap reads
// its whole input first); Apply runs one task; ApplyAsync and MapAsync
// return an AsyncResult. A task's error or panic comes back as a
// *TaskError carrying its index, the worker's pid and, for a panic, its
// stack; errors.Is works on it for this library's sentinels and the
// context errors. Cancelling a call's ctx stops handing out its tasks and
// cancels the ctx of those running in workers.
//
// Types whose encoding is their memory (numbers and structs of them,
// codec.Layout) travel as whole slices: Map reads its []In in place —
// do not change it during the call — and copies results straight into the
// []Out.
//
// # Lifetime
//
// Queues and pipes keep the library's one rule (the README's Lifetimes):
// made without a name, one lives while its creator holds it — the
// creator's Close, or its exit, removes the name, and processes that
// opened it keep using what they have; made with Name, it stays until
// Unlink (the tracker removes one forgotten at the program's end, with one
// line on stderr); Persistent ones only Unlink removes. A Pool's own pipes
// and pages are its alone and go with its workers.
//
// # Queues and pipes
//
// Queue[T] is a multi-producer, multi-consumer ring in one shared segment
// (internal/ring), with Python's put/get/qsize/empty/full and Go's ctx on
// every wait; JoinableQueue adds TaskDone (in any process, as Python's)
// and Join, which reports a consumer that died holding items
// (ErrConsumerDied) instead of waiting for ever, and never one whose items
// another process marked done. Pipe[T] is a pair of single-producer,
// single-consumer rings: Send and Recv, io.EOF after the peer closes,
// ErrPeerDied after it dies. Items larger than a quarter of the ring travel
// in side segments of their own, which live as long as their queue or pipe,
// whatever becomes of the process that put them.
package pool
