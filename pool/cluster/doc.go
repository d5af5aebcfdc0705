// Package cluster runs a Pool's tasks on workers on other machines,
// carried by NATS JetStream: the same registered functions, and the same
// Map, Imap, ImapUnordered, Apply and ApplyAsync calls on the same
// *pool.Pool, as with local workers.
//
//	// The caller (any machine):
//	p, err := pool.New(cluster.Connect("nats://queue.example:4222", cluster.Credentials("app.creds")))
//	out, err := square.Map(ctx, p, xs)
//
//	// A worker machine: the same binary, started with one setting.
//	func main() {
//		pool.Init()
//		if url := os.Getenv("WORKER_OF"); url != "" {
//			log.Fatal(cluster.Serve(ctx, url, cluster.Credentials("worker.creds")))
//		}
//		...
//	}
//
// Package embedded runs the NATS server inside the program, on loopback,
// for one machine and for tests (examples/cluster shows the whole thing).
//
// # Why a package of its own
//
// pool stays free of NATS: a binary that uses only local Pools links
// neither nats.go nor nats-server. pool's engine is an interface with two
// implementations, the local one and a remote one that speaks to a
// transport through pool/internal/remote (chunks and result batches as
// plain structs, and a few hooks pool lends: its Option type, its worker's
// chunk runner, its registry's fingerprint). This package is that
// transport. The engine and its types stay unexported, so pool's API
// grows by nothing; only this module's packages can import the seam.
//
// # How tasks travel
//
//	caller process                 NATS server (JetStream)             worker processes (Serve)
//	 f.Map → chunks ─ publish ──▶  prefix_tasks (work queue)  ─ pull 1 ─▶ run the chunk's tasks
//	   (Nats-Msg-Id: pool.seq)       prefix.task.<pool>.<call>            (pool's own runner)
//	                                                                       │ InProgress every AckWait/3
//	 mailbox ◀─ ordered consumer ─  prefix_results ◀──── publish batches ─┘ then ack the chunk
//	   dedupe by task               prefix.result.<pool>
//	 lease every Expiry/3 ───────▶  prefix_leases (TTL Expiry) ◀── looked at before each chunk
//	 cancel ──────────────────────▶ prefix.cancel.<pool> (plain NATS) ──▶ cancel the running task
//
// Each worker process is a NATS client of its own that takes one chunk at
// a time, so no worker holds tasks it is not running and a chunk's ack
// deadline runs only while it runs. Serve runs Processes of them (default
// pool.CPUCount()) and replaces one that dies. Processes, not goroutines,
// for the local Pool's reasons: a task that crashes, calls os.Exit, runs
// out of memory or passes its hard timeout takes down its own process and
// its own task, never its neighbours'; and package-level state a task
// sets stays in its process.
//
// # Failure semantics
//
// A task is delivered at least once and its outcome reaches the caller
// exactly once:
//
//   - A worker killed mid-task (or its machine, or its network): it stops
//     sending heartbeats, so once AckWait passes the server delivers the
//     chunk again, to any worker, which runs it from its first task. The
//     caller keeps, for each chunk, how many of its leading tasks it has
//     outcomes for, and takes from every batch only the tasks past that
//     (each batch names its chunk and first task): a task that ran twice
//     is delivered once. A task longer than AckWait is never redelivered
//     while its worker lives: the worker says InProgress every AckWait/3.
//   - MaxDeliver (default 5) bounds the deliveries. The worker that gets a
//     chunk on its last allowed delivery says so ("started", with its pid)
//     and reports after every task, waiting until each report is stored;
//     a worker that gets it once more, past the limit, reports it lost
//     and removes it. The caller then fails the first task of the chunk
//     without an outcome — the one that was running when the last worker
//     died — with a *pool.WorkerDiedError (errors.Is ErrWorkerDied) naming
//     that worker's host and pid, and sends the tasks after it again.
//     MaxDeliver(1) means a task never runs twice. (The server's own
//     MaxDeliver is not used: its advisory is plain NATS, lost if the
//     caller is away at that moment; a report in the results stream is
//     not.)
//   - Results are stored before the chunk is acknowledged, each batch
//     with a Nats-Msg-Id, so a batch sent again after a lost
//     acknowledgement is stored once; chunks likewise.
//   - A caller that dies leaves nothing running for ever: its lease (its
//     last message on prefix.lease.<pool>, renewed every Expiry/3 with a
//     TTL of Expiry) lapses within Expiry; workers look at a pool's lease
//     before each of its chunks (at most every Expiry/4) and, while they
//     run one, with each heartbeat, and drop its queued chunks and cancel
//     its running tasks once the lease is gone. A caller that could not
//     renew its lease for Expiry fails its calls with ErrExpired.
//   - A server restart with file storage (the default) loses nothing:
//     streams, the workers' consumer and its delivery counts are on disk;
//     clients reconnect for ever, publishes whose acknowledgement did not
//     come are sent again (and deduplicated), and the caller's ordered
//     consumer starts again from the last result it read.
//   - Cancelling a call (its ctx, breaking out of an Imap) purges its
//     queued chunks and tells workers, through prefix.cancel.<pool>, to
//     cancel its running tasks' ctx and skip the rest; a worker that
//     missed that message runs them, and the caller drops their results.
//
// # Another build
//
// Each chunk carries its caller's fingerprint: a hash of the registry (the
// registered names and their argument, result and receiver types), the
// multiproc module's version, the architecture and this protocol's
// version. A worker whose fingerprint differs runs nothing: it logs a
// line naming both fingerprints, once per pool, and the chunk's tasks fail
// with a *pool.TaskError wrapping ErrBuildMismatch that says the same.
// Register functions with pool.RegisterName to keep their names across
// builds.
//
// # Sizes
//
// Arguments and results travel in the Queue's codec, inside messages of at
// most the server's max_payload (1 MiB by default, less 1 KiB kept for
// headers). A chunk past it is sent as two halves, and so on down, so no
// Chunksize is ever too large; a single task whose argument is past it
// fails the call with pool.ErrTooLarge naming both sizes. A batch of
// results past it is split likewise, and a single result past it fails
// its task with a *pool.TaskError wrapping ErrTooLarge naming both sizes.
// (JetStream's object store could carry such a payload, but a caller that
// dies would leave it behind, and a task's data that large is better
// passed by name — a file, a bucket — than copied through the queue.)
//
// # Security
//
// Credentials (a creds file, an NKey seed, a token, a user and password)
// and TLS (ClientCert, RootCA, RequireTLS, tls:// URLs) pass to the NATS
// client of the caller and of every worker process; worker processes get
// them through an inherited pipe, never their command line or
// environment. Nothing in a caller or a worker listens on a port: they
// only dial the server. embedded listens on 127.0.0.1 unless told
// otherwise, with no monitoring port.
//
// # Cost
//
// The network hop, measured beside the local Pool in the same run (2
// worker processes each, the embedded server on loopback, a loaded 2-CPU
// VM shared with other builds; ranges over 3 runs):
//
//	go test ./pool/cluster -run '^$' -bench MapTrivial -benchtime 10x -count 3
//	go test ./pool/cluster -run '^$' -bench Apply -benchtime 200x -count 3
//
//	                              local Pool         cluster, file storage   cluster, memory
//	Map of 100,000 x*x            6.0–13.7 M tasks/s  5.4–5.8 M tasks/s       4.0–6.5 M tasks/s
//	Apply (one task, round trip)  12–21 µs           0.44–0.78 ms            0.35–0.52 ms
//
// A Map's chunks are large (a few per worker), so the hop costs it little;
// a single task pays the round trip through the server: the chunk stored,
// pulled by a worker, its result stored and read, the chunk acknowledged.
//
// # Caveats
//
//   - Delivery is at least once: a task may run twice (on the caller's
//     behalf, once delivered), so tasks with side effects want MaxDeliver(1)
//     or to be idempotent. MaxDeliver(1) reports after every task, a round
//     trip each: slower for trivial tasks.
//   - pool.HardTimeout ends the worker process as locally, but the caller
//     learns of it as of any death: the chunk is delivered again, and the
//     task fails with ErrWorkerDied after MaxDeliver, not ErrTimeout.
//   - The options about worker processes (Initializer, MaxTasksPerChild,
//     MemoryLimit, RetryOnWorkerDeath, StopOnWorkerDeath) are refused by
//     pool.New with Connect. Pool.Stats has one line for all the workers.
//   - AckWait is the workers' consumer's: the last Serve to start sets it.
//     A worker cut off from the server for longer than AckWait while its
//     task runs on is taken for dead; its results, if they come, are
//     dropped as duplicates.
//   - The queued chunks of a dead caller are dropped when a worker next
//     takes them; with no worker running they wait in the stream.
package cluster
