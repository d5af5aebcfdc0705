package workload

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/multiproc/multiproc/sem"
)

// The catalog: every workload, in the order the tool runs and shows them.
// A family's workloads are go test's sub-benchmarks of Benchmark<Family>,
// named Family/key=value/.../impl=ID.
//
// A workload with no multiproc impl yet holds its baselines and says in
// Pending what will add it.

var (
	catalogOnce sync.Once
	catalog     []*Workload
)

// All returns every workload.
func All() []*Workload {
	catalogOnce.Do(func() { catalog = build() })
	return catalog
}

// Families lists the families in catalog order.
func Families() []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range All() {
		if !seen[w.Family] {
			seen[w.Family] = true
			out = append(out, w.Family)
		}
	}
	return out
}

type builder struct {
	ws     []*Workload
	shared map[string]*Impl
}

func (b *builder) workload(family string, pl Placement, op string, params ...string) *Workload {
	op, detail, _ := strings.Cut(op, "; ")
	w := &Workload{Family: family, Op: op, Detail: detail, Placement: pl}
	for i := 0; i+1 < len(params); i += 2 {
		w.Params = append(w.Params, Param{params[i], params[i+1]})
	}
	b.ws = append(b.ws, w)
	return w
}

// add makes im one of w's own impls.
func (w *Workload) add(im *Impl) *Impl {
	im.Home = w
	w.Impls = append(w.Impls, im)
	return im
}

// show makes im, measured in another workload, one of w's rows too.
func (w *Workload) show(im *Impl) {
	if im != nil {
		w.Impls = append(w.Impls, im)
	}
}

// once returns the impl made under key, making it w's own the first time:
// one measurement shown by several workloads.
func (b *builder) once(w *Workload, key string, mk func() *Impl) {
	if im, ok := b.shared[key]; ok {
		w.show(im)
		return
	}
	im := w.add(mk())
	b.shared[key] = im
}

func mp(id, desc string, r runner) *Impl  { return &Impl{System: Multiproc, ID: id, Desc: desc, run: r} }
func gof(id, desc string, r runner) *Impl { return &Impl{System: Go, ID: id, Desc: desc, run: r} }

func cProg(id, desc, prog, mode, variant string, procs, size int, pl Placement) *Impl {
	return &Impl{System: C, ID: id, Desc: desc, Needs: "gcc",
		run: foreign{prog: prog, mode: mode, variant: variant, procs: procs, size: size, placement: pl}}
}

func py(desc, mode, variant string, procs, size int, pl Placement) *Impl {
	return &Impl{System: Python, ID: "python", Desc: desc, Needs: "python3",
		run: foreign{mode: mode, variant: variant, procs: procs, size: size, placement: pl}}
}

func extra(im *Impl) *Impl { im.Extra = true; return im }

func workers(role string, procs int, split bool, pl Placement, setup func() (*shared, error)) goWorkers {
	return goWorkers{role: role, procs: procs, split: split, placement: pl, setup: setup}
}

// pyItem is the Python script's variant for a queue item kind: the tuple
// for the struct, bytes or an int otherwise (told by size).
func pyItem(item string) string {
	if item == "struct" {
		return "tuple"
	}
	return ""
}

func goroutines(n int) string {
	if n == 1 {
		return "1 goroutine"
	}
	return fmt.Sprintf("%d goroutines", n)
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

func build() []*Workload {
	b := &builder{shared: map[string]*Impl{}}
	uncontended(b)
	counters(b)
	pingPongs(b)
	barriers(b)
	values(b)
	lifecycle(b)
	queues(b)
	pools(b)
	return b.ws
}

func uncontended(b *builder) {
	const op = "one acquire+release pair in one process, nobody else around"
	w := b.workload("Uncontended", Anywhere, op, "op", "Lock")
	lock := w.add(mp("multiproc", "sem.Lock Lock+Unlock", lockPairs(false)))
	w.add(extra(mp("multiproc-ctx", "sem.Lock LockContext+Unlock", lockPairs(true))))
	mutex := w.add(gof("go-mutex", "sync.Mutex (in-process floor)", mutexPairs()))
	w.add(extra(gof("go-flock", "gofrs/flock: flock(2) on a file", flockPairs())))
	w.add(cProg("c-pthread", "pthread mutex, process-shared", "pthread", "pair", "plain", 0, 0, Anywhere))
	w.add(cProg("c-pthread-robust", "pthread mutex, process-shared robust", "pthread", "pair", "robust", 0, 0, Anywhere))
	w.add(py("multiprocessing.Lock", "pair", "lock", 0, 0, Anywhere))

	w = b.workload("Uncontended", Anywhere, op+"; the outermost pair", "op", "RLock")
	w.add(mp("multiproc", "sem.RLock Lock+Unlock, outermost", rlockPairs(false)))
	w.show(lock)
	w.show(mutex)
	w.add(cProg("c-pthread", "pthread mutex, process-shared recursive", "pthread", "pair", "recursive", 0, 0, Anywhere))
	w.add(py("multiprocessing.RLock", "pair", "rlock", 0, 0, Anywhere))

	w = b.workload("Uncontended", Anywhere, op+"; an inner pair, the RLock already held", "op", "RLockNested")
	w.add(mp("multiproc", "sem.RLock Lock+Unlock, nested", rlockPairs(true)))
	w.add(cProg("c-pthread", "pthread recursive mutex, nested", "pthread", "pair", "nested", 0, 0, Anywhere))
	w.add(py("multiprocessing.RLock, nested", "pair", "nested", 0, 0, Anywhere))

	w = b.workload("Uncontended", Anywhere, op, "op", "Semaphore")
	w.add(mp("multiproc", "sem.Semaphore Acquire+Release", semaphorePairs(false)))
	w.add(extra(mp("multiproc-try", "sem.Semaphore TryAcquire+Release", semaphorePairs(true))))
	w.add(gof("go-chan", "chan struct{} of 1: send+receive", chanPairs()))
	w.add(cProg("c-sem", "sem_wait+sem_post (glibc named semaphore)", "posixsem", "pair", "", 0, 0, Anywhere))
	w.add(py("multiprocessing.Semaphore", "pair", "semaphore", 0, 0, Anywhere))
}

func counters(b *builder) {
	const op = "one increment of a plain counter in shared memory under the lock, the processes sharing the increments (time per increment, all together)"
	for _, procs := range []int{2, 4} {
		n := strconv.Itoa(procs)
		w := b.workload("Counter", Anywhere, op, "procs", n)
		w.add(mp("multiproc", "sem.Lock", workers("counter", procs, true, Anywhere, setupCounter("Lock", spinDefault))))
		w.add(extra(mp("multiproc-spin0", "sem.Lock, spin 0", workers("counter", procs, true, Anywhere, setupCounter("Lock", "0s")))))
		w.add(mp("multiproc-rlock", "sem.RLock", workers("counter", procs, true, Anywhere, setupCounter("RLock", spinDefault))))
		w.add(extra(mp("multiproc-sem", "sem.Semaphore(1)", workers("counter", procs, true, Anywhere, setupCounter("Semaphore", spinDefault)))))
		b.once(w, "go-mutex-counter/"+n, func() *Impl {
			return gof("go-mutex", fmt.Sprintf("sync.Mutex, %s (floor)", goroutines(procs)), mutexCounter(procs))
		})
		b.once(w, "c-pthread-counter/"+n, func() *Impl {
			return cProg("c-pthread", "pthread mutex, process-shared", "pthread", "counter", "plain", procs, 0, Anywhere)
		})
		w.add(cProg("c-pthread-robust", "pthread mutex, process-shared robust", "pthread", "counter", "robust", procs, 0, Anywhere))
		w.add(extra(cProg("c-sem", "sem_wait/sem_post", "posixsem", "counter", "", procs, 0, Anywhere)))
		w.add(py("multiprocessing.Lock", "counter", "lock", procs, 0, Anywhere))
	}
}

func pingPongs(b *builder) {
	const op = "one round trip between two processes: each wakes the other once"
	for _, pl := range Placements {
		cpus := string(pl)
		// The raw futex ping-pong is the floor under every wait: it is
		// measured with the Event (a flag word, the closest to it) and
		// shown with every other object.
		var futex, floor *Impl

		w := b.workload("PingPong", pl, op+"; two handoffs of the Lock to a process blocked in Lock", "obj", "Lock", "cpus", cpus)
		lockRow := w
		w.add(mp("multiproc", "sem.Lock handoff", workers("handoff", 2, false, pl, setupHandoff(spinDefault))))
		w.add(extra(mp("multiproc-spin0", "sem.Lock handoff, spin 0", workers("handoff", 2, false, pl, setupHandoff("0s")))))
		w.add(cProg("c-pthread", "pthread mutex handoff", "pthread", "handoff", "plain", 2, 0, pl))
		w.add(extra(cProg("c-pthread-robust", "robust pthread mutex handoff", "pthread", "handoff", "robust", 2, 0, pl)))
		w.add(py("multiprocessing.Lock handoff", "handoff", "lock", 2, 0, pl))

		w = b.workload("PingPong", pl, op, "obj", "Condition", "cpus", cpus)
		condRow := w
		w.add(mp("multiproc", "sem.Condition on a Lock", workers("cond", 2, false, pl, setupCond(spinDefault, false))))
		w.add(extra(mp("multiproc-spin0", "sem.Condition, spin 0", workers("cond", 2, false, pl, setupCond("0s", false)))))
		w.add(extra(mp("multiproc-rlock", "sem.Condition on its own RLock", workers("cond", 2, false, pl, setupCond(spinDefault, true)))))
		w.add(cProg("c-pthread", "pthread condvar, process-shared", "pthread", "cond", "", 2, 0, pl))
		w.add(py("multiprocessing.Condition", "cond", "", 2, 0, pl))

		w = b.workload("PingPong", pl, op, "obj", "Event", "cpus", cpus)
		w.add(mp("multiproc", "sem.Event", workers("event", 2, false, pl, setupPair(func() (*sem.Event, error) { return sem.NewEvent() }))))
		futex = w.add(cProg("c-futex", "raw futex wait/wake, no spin", "futex", "pingpong", "", 2, 0, pl))
		if pl == Anywhere {
			floor = w.add(gof("go-chan", "unbuffered channels, two goroutines (floor)", chanPingPong()))
		}
		w.add(py("multiprocessing.Event", "event", "", 2, 0, pl))
		lockRow.show(futex)
		condRow.show(futex)
		lockRow.show(floor)
		condRow.show(floor)

		w = b.workload("PingPong", pl, op, "obj", "Semaphore", "cpus", cpus)
		w.add(mp("multiproc", "sem.Semaphore", workers("sem", 2, false, pl, setupPair(func() (*sem.Semaphore, error) { return sem.NewSemaphore(0) }))))
		w.add(cProg("c-sem", "sem_post/sem_wait (glibc named semaphores)", "posixsem", "pingpong", "", 2, 0, pl))
		w.show(futex)
		w.show(floor)
		w.add(py("multiprocessing.Semaphore", "semaphore", "", 2, 0, pl))

		w = b.workload("PingPong", pl, op+"; one cycle of a Barrier of 2 parties", "obj", "Barrier", "cpus", cpus)
		w.add(mp("multiproc", "barrier.Barrier, 2 parties", workers("barrier", 2, false, pl, setupBarrier(2))))
		w.add(cProg("c-pthread", "pthread barrier, process-shared", "pthread", "barrier", "", 2, 0, pl))
		w.show(futex)
		w.show(floor)
		w.add(py("multiprocessing.Barrier", "barrier", "", 2, 0, pl))

		w = b.workload("PingPong", pl, op+"; an 8-byte message each way", "obj", "Pipe", "cpus", cpus)
		w.add(mp("multiproc", "pool.Pipe[int64] Send/Recv", workers("pipe", 2, false, pl, setupPipe)))
		w.add(cProg("c-pipe", "pipe(2), 8-byte messages", "pipe", "pingpong", "pipe", 2, 0, pl))
		w.add(cProg("c-seqpacket", "socketpair SOCK_SEQPACKET", "pipe", "pingpong", "seqpacket", 2, 0, pl))
		w.show(floor)
		w.add(py("multiprocessing.Pipe send_bytes/recv_bytes", "pipe", "", 2, 0, pl))
	}
}

func barriers(b *builder) {
	w := b.workload("Barrier", Anywhere, "one cycle of a Barrier whose parties are processes (2 parties: PingPong/obj=Barrier)", "procs", "4")
	w.add(mp("multiproc", "barrier.Barrier, 4 processes", workers("barrier", 4, false, Anywhere, setupBarrier(4))))
	w.add(extra(mp("multiproc-goroutines", "barrier.Barrier, 4 goroutines of one process", barrierGoroutines(4))))
	w.add(cProg("c-pthread", "pthread barrier, process-shared", "pthread", "barrier", "", 4, 0, Anywhere))
	w.add(py("multiprocessing.Barrier", "barrier", "", 4, 0, Anywhere))
}

func values(b *builder) {
	pyValue := func(procs int) func() *Impl {
		return func() *Impl {
			return py("Value('q'): with get_lock(): value += 1", "value", "", procs, 0, Anywhere)
		}
	}
	for _, procs := range []int{1, 2, 4} {
		n := strconv.Itoa(procs)
		w := b.workload("Value", Anywhere, "one op on a shared int64, the processes sharing the ops; a lock-free add", "op", "Add", "procs", n)
		w.add(mp("multiproc", "value.Add", workers("value", procs, true, Anywhere, setupValue("add"))))
		w.add(gof("go-atomic", fmt.Sprintf("atomic.Int64.Add, %s (floor)", goroutines(procs)), atomicAdd(procs)))
		w.add(cProg("c-atomic", "__atomic_fetch_add on shared memory", "futex", "add", "", procs, 0, Anywhere))
		b.once(w, "py-value/"+n, pyValue(procs))
	}
	for _, procs := range []int{1, 2, 4} {
		n := strconv.Itoa(procs)
		w := b.workload("Value", Anywhere, "one op on a shared int64, the processes sharing the ops; a read-modify-write under the value's lock", "op", "Update", "procs", n)
		w.add(mp("multiproc", "Value.Update (under its lock)", workers("value", procs, true, Anywhere, setupValue("update"))))
		b.once(w, "go-mutex-counter/"+n, func() *Impl {
			return gof("go-mutex", fmt.Sprintf("sync.Mutex, %s (floor)", goroutines(procs)), mutexCounter(procs))
		})
		b.once(w, "c-pthread-counter/"+n, func() *Impl {
			return cProg("c-pthread", "pthread mutex, process-shared", "pthread", "counter", "plain", procs, 0, Anywhere)
		})
		b.once(w, "py-value/"+n, pyValue(procs))
	}
}

func lifecycle(b *builder) {
	const op = "create one object, close it and remove it, in one process"
	for _, seg := range []struct {
		name string
		size int
	}{{"Segment4KiB", 4 * kib}, {"Segment1MiB", mib}} {
		w := b.workload("Create", Anywhere, op, "obj", seg.name)
		w.add(mp("multiproc", "shm.Create (tracked), Close, Unlink", createSegment(seg.size, false)))
		w.add(extra(mp("multiproc-persistent", "shm.Create Persistent, Close, Unlink", createSegment(seg.size, true))))
		w.add(cProg("c-shm", "shm_open, ftruncate, mmap, munmap, close, shm_unlink", "shm", "create", "plain", 0, seg.size, Anywhere))
		w.add(cProg("c-shm-reserve", "the same with posix_fallocate (pages reserved, as multiproc)", "shm", "create", "reserve", 0, seg.size, Anywhere))
		w.add(py("SharedMemory(create=True), close, unlink", "create", "segment", 0, seg.size, Anywhere))
	}

	w := b.workload("Create", Anywhere, op, "obj", "Lock")
	w.add(mp("multiproc", "sem.NewLock (tracked), Close, Unlink", createLock(false)))
	w.add(extra(mp("multiproc-persistent", "sem.NewLock Persistent, Close, Unlink", createLock(true))))
	cLock := w.add(cProg("c-shm-mutex", "4 KiB shm_open segment + robust pthread mutex", "shm", "lock", "", 0, 0, Anywhere))
	w.add(py("multiprocessing.Lock() (spawn context: named, tracked)", "create", "lock", 0, 0, Anywhere))

	w = b.workload("Create", Anywhere, op, "obj", "Semaphore")
	w.add(mp("multiproc", "sem.NewSemaphore, Close, Unlink", createSemaphore()))
	w.add(cProg("c-sem", "sem_open(O_CREAT|O_EXCL), sem_close, sem_unlink", "posixsem", "create", "", 0, 0, Anywhere))
	w.add(py("multiprocessing.Semaphore()", "create", "semaphore", 0, 0, Anywhere))

	w = b.workload("Create", Anywhere, op, "obj", "Value")
	w.add(mp("multiproc", "value.New[int64], Close, Unlink", createValue()))
	w.show(cLock)
	w.add(py("multiprocessing.Value('q')", "create", "value", 0, 0, Anywhere))

	w = b.workload("Open", Anywhere, "open an existing object by name and close it, in one process", "obj", "Segment1MiB")
	w.add(mp("multiproc", "shm.Open, Close", openSegment(mib)))
	w.add(cProg("c-shm", "shm_open, fstat, mmap, munmap, close", "shm", "open", "", 0, mib, Anywhere))
	w.add(py("SharedMemory(name=...), close", "open", "segment", 0, mib, Anywhere))
}

func queues(b *builder) {
	for _, it := range queueItems {
		for _, procs := range []struct {
			name       string
			prod, cons int
		}{{"1x1", 1, 1}, {"2x2", 2, 2}} {
			op := "one item from producer processes to consumer processes, not batched"
			if it.name == "1MiB" {
				op = "one 1 MiB []byte item from producer processes to consumer processes"
			}
			w := b.workload("Queue", Anywhere, op, "items", it.name, "procs", procs.name)
			n := procs.prod + procs.cons
			capacity := 0
			if it.name == "1MiB" {
				capacity = 8 * mib // 1 MiB items through the ring (a quarter of it is the limit)
			}
			w.add(mp("multiproc", "pool.Queue Put/Get", workers("queue", n, false, Anywhere, setupQueue(it.name, 1, procs.prod, procs.cons, capacity))))
			w.add(mp("multiproc-batch64", "pool.Queue PutBatch/GetBatch of 64", workers("queue", n, false, Anywhere, setupQueue(it.name, 64, procs.prod, procs.cons, capacity))))
			if it.name == "1MiB" {
				w.add(extra(mp("multiproc-side", "pool.Queue, default 1 MiB ring: side segments", workers("queue", n, false, Anywhere, setupQueue(it.name, 1, procs.prod, procs.cons, 0)))))
			}
			if procs.name != "1x1" {
				w.add(py("multiprocessing.Queue put/get", "queue", pyItem(it.name), n, it.size, Anywhere))
				continue
			}
			if it.name != "struct" {
				w.add(cProg("c-pipe", "pipe(2), one write per item", "pipe", "stream", "pipe", 2, it.size, Anywhere))
				if it.size <= 64*kib { // c/pipe.c: one message, in the socket's default buffer
					w.add(cProg("c-seqpacket", "socketpair SOCK_SEQPACKET, one send per item", "pipe", "stream", "seqpacket", 2, it.size, Anywhere))
				}
			}
			if it.size <= 64 {
				w.add(gof("go-chan", "channel of 1024, two goroutines (floor)", chanStream(it.size)))
			}
			w.add(py("multiprocessing.Queue put/get", "queue", pyItem(it.name), 2, it.size, Anywhere))
			simple := py("multiprocessing.SimpleQueue put/get", "simplequeue", pyItem(it.name), 2, it.size, Anywhere)
			simple.ID = "python-simplequeue"
			w.add(extra(simple))
		}
	}
}

// pyMethod is Python's impl of mode with the start method method, named
// for it (python-fork, python-spawn, python-forkserver), since the Pool's
// rows show several. variant is what follows the method in the script's
// VARIANT ("/1": chunksize 1).
func pyMethod(desc, mode, method, variant string, procs, size int) *Impl {
	im := py(desc+" ("+method+")", mode, method+variant, procs, size, Anywhere)
	im.ID = "python-" + method
	return im
}

func pools(b *builder) {
	const op = "Python's Pool and Process doing a trivial task (x*x of an int): one op as the workload's detail says"
	for _, n := range []int{2, 4} {
		w := b.workload("Pool", Anywhere, op+"; one pool.New(Workers(N)) and Close, which returns once the N workers have exited (Python: Pool(N), close(), join())",
			"op", "StartClose", "workers", strconv.Itoa(n))
		w.MinOps = 1 // Python's spawn takes a third of a second, more under load
		w.add(mp("multiproc", fmt.Sprintf("pool.New(Workers(%d)), Close", n), poolStartClose(n)))
		w.add(gof("go-pool", fmt.Sprintf("goroutine pool: %s started and stopped (floor)", goroutines(n)), goroutineStartClose(n)))
		for _, m := range []string{"fork", "spawn", "forkserver"} {
			w.add(pyMethod(fmt.Sprintf("Pool(%d), close, join", n), "poolstart", m, "", n, 0))
		}
	}

	const mapDetail = "one item of a Map of x*x over the workload's items on a pool of 2 worker processes; chunksize=default is Python's len/(4×workers) (multiproc caps a chunk at 64 KiB of arguments: 8192 ints)"
	for _, tc := range []struct {
		items     string
		n, chunks int
	}{{"1e5", 100_000, 0}, {"1e6", 1_000_000, 0}, {"1e4", 10_000, 1}} {
		chunk, pyChunk := "default", ""
		if tc.chunks > 0 {
			chunk, pyChunk = strconv.Itoa(tc.chunks), "/"+strconv.Itoa(tc.chunks)
		}
		w := b.workload("Pool", Anywhere, op+"; "+mapDetail, "op", "Map", "items", tc.items, "chunksize", chunk)
		w.add(mp("multiproc", "Func.Map on pool.New(Workers(2))", poolMap(2, tc.n, tc.chunks)))
		w.add(gof("go-pool", "in-process goroutine pool: GOMAXPROCS goroutines run the same func(ctx, int) (int, error) over the same chunks", goroutineMap(2, tc.n, tc.chunks)))
		for _, m := range []string{"fork", "spawn"} {
			im := pyMethod("Pool(2).map", "map", m, pyChunk, 2, tc.n)
			im.run = perItem{tc.n, im.run}
			w.add(im)
		}
	}

	w := b.workload("Pool", Anywhere, op+"; one task's round trip to a pool of 2 worker processes (Apply; Python: apply, which is apply_async().get())", "op", "Apply")
	w.add(mp("multiproc", "Func.Apply on pool.New(Workers(2))", poolApply(2)))
	w.add(gof("go-pool", "in-process goroutine pool: one task of the same func through its channel (floor)", goroutineApply()))
	for _, m := range []string{"fork", "spawn"} {
		w.add(pyMethod("Pool(2).apply", "apply", m, "", 2, 0))
	}

	w = b.workload("Pool", Anywhere, op+"; one pool.Start of a registered function that does nothing, and Wait (Python: Process(target=f), start(), join())", "op", "ProcessStartWait")
	w.MinOps = 1
	w.add(mp("multiproc", "pool.Start, Wait", processStartWait(false)))
	w.add(extra(mp("multiproc-daemon", "pool.Start with Daemon(), Wait", processStartWait(true))))
	w.add(gof("go-reexec", "this binary re-executed in a role that exits at once, reaped (the floor of a re-executed worker)", reexecExit()))
	for _, m := range []string{"fork", "spawn", "forkserver"} {
		w.add(pyMethod("Process(target=f).start(), join()", "processstart", m, "", 0, 0))
	}
}
