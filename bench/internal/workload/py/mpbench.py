"""mpbench: Python multiprocessing's side of bench/internal/workload.

Usage: mpbench.py MODE VARIANT N PROCS CPUS [SIZE]

prints a line "go" when the timed part starts and one line "ns/op <float>"
at the end, or a message on stderr and exit status 1.
CPUS is "-" (no pinning) or a comma list giving the CPU of each worker
(-1: not pinned). Objects come from the spawn context, as a Python program
that shares them with other processes makes them (spawn is also what
Python 3.14 defaults to on Linux, through forkserver).

A multi-process mode is one coordinator (this process) and PROCS workers
run exactly as the C and Go sides run theirs: each worker pins itself to
its CPU, says it is ready and waits for the start; each stamps
CLOCK_MONOTONIC before its first operation and after its last; the
coordinator prints (latest end - earliest start) / N. Worker start-up is
not timed.

Modes (VARIANT "-" unless given):
  pair lock|rlock|nested|semaphore   in-process acquire+release pairs
  counter lock                       PROCS workers share N increments
  handoff lock                       2 workers hand a Lock to each other
  cond | event | semaphore | pipe    2 workers, N round trips
  barrier                            PROCS workers, N Barrier cycles
  value                              PROCS workers share N increments of
                                     Value('q') under get_lock()
  create segment|lock|semaphore|value   N creations (and removals)
  open segment                       N attaches to one SharedMemory
  queue                              worker 0 puts N items of SIZE bytes
                                     (SIZE 8: ints) on a Queue, worker 1 gets
  apply [METHOD]                     N Pool(PROCS).apply round trips
  map METHOD[/CHUNKSIZE]             Pool(PROCS).map of square over SIZE
                                     ints, N/SIZE times (N a multiple of
                                     SIZE); one op is one item; default
                                     chunking unless CHUNKSIZE is given
  poolstart METHOD                   N times Pool(PROCS), close, join
  processstart METHOD                N times Process(target=nothing).start,
                                     join

METHOD is a start method: fork, spawn or forkserver ("-": spawn). The pool
modes start a first pool or process untimed, as a program does once (for
forkserver, that starts its server).
"""
import multiprocessing as mp
import multiprocessing.connection
import os
import sys
import time
from multiprocessing import shared_memory

CTX = mp.get_context("spawn")


def now():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def share(n, procs, idx, split):
    if not split:
        return n
    return n // procs + (1 if idx < n % procs else 0)


# ---- workers: each is worker(idx, n, arg...) and runs its n operations.


def w_counter(idx, n, lock, count):
    for _ in range(n):
        with lock:
            count.value += 1


def w_handoff(idx, n, lock, words):
    # words: 0 w0 waiting, 1 w1 waiting, 2 w0 has, 3 w1 has, 4 w0 holds it
    # at the start (the protocol of the C and Go sides).
    yld = os.sched_yield
    if idx == 0:
        lock.acquire()
        words[4] = 1
        for i in range(1, n + 1):
            while words[1] != i:
                yld()
            lock.release()
            while words[3] != i:
                yld()
            words[0] = i
            lock.acquire()
            words[2] = i
        lock.release()
    else:
        while words[4] != 1:
            yld()
        for i in range(1, n + 1):
            words[1] = i
            lock.acquire()
            words[3] = i
            while words[0] != i:
                yld()
            lock.release()
            while words[2] != i:
                yld()


def w_cond(idx, n, cond, turn):
    with cond:
        for i in range(n):
            if idx == 0:
                mine = 2 * i + 1
                turn.value = mine
                cond.notify()
                cond.wait_for(lambda: turn.value == mine + 1)
            else:
                mine = 2 * i + 2
                cond.wait_for(lambda: turn.value == mine - 1)
                turn.value = mine
                cond.notify()


def w_event(idx, n, ping, pong):
    for _ in range(n):
        if idx == 0:
            ping.set()
            pong.wait()
            pong.clear()
        else:
            ping.wait()
            ping.clear()
            pong.set()


def w_semaphore(idx, n, ping, pong):
    for _ in range(n):
        if idx == 0:
            ping.release()
            pong.acquire()
        else:
            ping.acquire()
            pong.release()


def w_pipe(idx, n, a, b):
    msg = bytes(8)
    for _ in range(n):
        if idx == 0:
            a.send_bytes(msg)
            a.recv_bytes()
        else:
            b.recv_bytes()
            b.send_bytes(msg)


def w_barrier(idx, n, bar):
    for _ in range(n):
        bar.wait()


def w_value(idx, n, v):
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1


def w_queue(idx, n, q, size, variant, procs):
    # Workers 0..procs/2-1 put, the others get; the n items are shared out.
    half = procs // 2
    if idx < half:
        share = n // half + (1 if idx < n % half else 0)
        if variant == "tuple":
            for i in range(share):
                q.put((i, "record", i / 3, ["alpha", "beta"]))
        elif size == 8:
            for i in range(share):
                q.put(i)
        else:
            item = bytes(size)
            for _ in range(share):
                q.put(item)
    else:
        j = idx - half
        share = n // half + (1 if j < n % half else 0)
        for _ in range(share):
            q.get()


def worker(fn, idx, n, cpu, ready, go, spans, args):
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    ready.release()
    go.wait()
    spans[2 * idx] = now()
    fn(idx, n, *args)
    spans[2 * idx + 1] = now()


def run_workers(fn, n, procs, cpus, split, *args):
    ready = CTX.Semaphore(0)
    go = CTX.Event()
    spans = CTX.RawArray("q", 2 * procs)
    ps = []
    for i in range(procs):
        cpu = cpus[i] if i < len(cpus) else -1
        p = CTX.Process(target=worker, args=(fn, i, share(n, procs, i, split), cpu, ready, go, spans, args))
        p.start()
        ps.append(p)
    for _ in range(procs):
        # A worker that dies before it is ready (its objects could not be
        # opened, say) would leave this wait without end.
        while not ready.acquire(timeout=0.05):
            for p in ps:
                if p.exitcode is not None:
                    for q in ps:
                        q.kill()
                    sys.exit("a worker exited before it was ready: exit code %s" % p.exitcode)
    print("go", flush=True)
    go.set()
    # Reap in any order; the first worker to fail takes the others down,
    # since its peer may wait for it for good.
    running = {p.sentinel: p for p in ps}
    while running:
        for s in mp.connection.wait(list(running)):
            p = running.pop(s)
            p.join()
            if p.exitcode != 0:
                for q in running.values():
                    q.kill()
                for q in running.values():
                    q.join()
                sys.exit("a worker failed: exit code %s" % p.exitcode)
    first = min(spans[2 * i] for i in range(procs))
    last = max(spans[2 * i + 1] for i in range(procs))
    return (last - first) / n


def time_loop(n, op):
    print("go", flush=True)
    t0 = now()
    for _ in range(n):
        op()
    return (now() - t0) / n


# ---- the in-process modes.


def pair(variant, n):
    if variant == "lock":
        lk = CTX.Lock()
    elif variant in ("rlock", "nested"):
        lk = CTX.RLock()
    elif variant == "semaphore":
        lk = CTX.Semaphore(1)
    else:
        sys.exit("unknown pair " + variant)
    if variant == "nested":
        lk.acquire()
    acquire, release = lk.acquire, lk.release

    def op():
        acquire()
        release()

    return time_loop(n, op)


def create(variant, n, size):
    if variant == "segment":

        def op():
            s = shared_memory.SharedMemory(create=True, size=size)
            s.close()
            s.unlink()

    elif variant == "lock":

        def op():
            CTX.Lock()  # dropped at once: its finalizer unlinks it

    elif variant == "semaphore":

        def op():
            CTX.Semaphore(1)

    elif variant == "value":

        def op():
            CTX.Value("q", 0)

    else:
        sys.exit("unknown create " + variant)
    op()  # starts the resource tracker, as a program's first object does
    return time_loop(n, op)


def open_segment(n, size):
    seg = shared_memory.SharedMemory(create=True, size=size)
    try:

        def op():
            s = shared_memory.SharedMemory(name=seg.name)
            s.close()

        op()
        return time_loop(n, op)
    finally:
        seg.close()
        seg.unlink()


def square(x):
    return x * x


def nothing():
    pass


def start_context(method):
    return CTX if method in ("-", "spawn") else mp.get_context(method)


def apply(method, n, procs):
    with start_context(method).Pool(procs) as pool:
        pool.apply(square, (0,))  # every worker started
        print("go", flush=True)
        t0 = now()
        for i in range(n):
            pool.apply(square, (i,))
        return (now() - t0) / n


def pool_map(variant, n, procs, size):
    method, _, chunk = variant.partition("/")
    chunksize = int(chunk) if chunk else None
    if n % size:
        sys.exit("map: N %d is not a multiple of SIZE %d" % (n, size))
    xs = list(range(size))
    with start_context(method).Pool(procs) as pool:
        pool.map(square, range(4 * procs), chunksize=1)  # every worker started
        print("go", flush=True)
        t0 = now()
        for _ in range(n // size):
            out = pool.map(square, xs, chunksize)
        ns = (now() - t0) / n
    if len(out) != size or out[-1] != (size - 1) ** 2:
        sys.exit("map: wrong results")
    return ns


def pool_start(method, n, procs):
    ctx = start_context(method)

    def op():
        pool = ctx.Pool(procs)
        pool.close()
        pool.join()

    op()
    return time_loop(n, op)


def process_start(method, n):
    ctx = start_context(method)

    def op():
        p = ctx.Process(target=nothing)
        p.start()
        p.join()
        if p.exitcode != 0:
            sys.exit("the process exited with %s" % p.exitcode)

    op()
    return time_loop(n, op)


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    mode, variant = sys.argv[1], sys.argv[2]
    n, procs = int(sys.argv[3]), int(sys.argv[4])
    cpus = [] if sys.argv[5] == "-" else [int(c) for c in sys.argv[5].split(",")]
    size = int(sys.argv[6]) if len(sys.argv) == 7 else 8
    if n < 1 or procs < 0:
        sys.exit("N %d or PROCS %d out of range" % (n, procs))
    if mode in ("handoff", "cond", "event", "semaphore", "pipe") and procs != 2:
        sys.exit(mode + " needs 2 workers")
    if mode in ("queue", "simplequeue") and procs not in (2, 4):
        sys.exit(mode + " needs 2 or 4 workers")
    if mode == "pair":
        ns = pair(variant, n)
    elif mode == "counter":
        count = CTX.RawValue("Q", 0)
        ns = run_workers(w_counter, n, procs, cpus, True, CTX.Lock(), count)
        if count.value != n:
            sys.exit("counter %d, want %d" % (count.value, n))
    elif mode == "handoff":
        ns = run_workers(w_handoff, n, procs, cpus, False, CTX.Lock(), CTX.RawArray("Q", 5))
    elif mode == "cond":
        ns = run_workers(w_cond, n, procs, cpus, False, CTX.Condition(CTX.Lock()), CTX.RawValue("Q", 0))
    elif mode == "event":
        ns = run_workers(w_event, n, procs, cpus, False, CTX.Event(), CTX.Event())
    elif mode == "semaphore":
        ns = run_workers(w_semaphore, n, procs, cpus, False, CTX.Semaphore(0), CTX.Semaphore(0))
    elif mode == "pipe":
        a, b = CTX.Pipe()
        ns = run_workers(w_pipe, n, procs, cpus, False, a, b)
    elif mode == "barrier":
        ns = run_workers(w_barrier, n, procs, cpus, False, CTX.Barrier(procs))
    elif mode == "value":
        v = CTX.Value("q", 0)
        ns = run_workers(w_value, n, procs, cpus, True, v)
        if v.value != n:
            sys.exit("value %d, want %d" % (v.value, n))
    elif mode == "create":
        ns = create(variant, n, size)
    elif mode == "open":
        ns = open_segment(n, size)
    elif mode == "queue":
        ns = run_workers(w_queue, n, procs, cpus, False, CTX.Queue(1024), size, variant, procs)
    elif mode == "simplequeue":
        ns = run_workers(w_queue, n, procs, cpus, False, CTX.SimpleQueue(), size, variant, procs)
    elif mode == "apply":
        ns = apply(variant, n, max(procs, 1))
    elif mode == "map":
        ns = pool_map(variant, n, max(procs, 1), size)
    elif mode == "poolstart":
        ns = pool_start(variant, n, max(procs, 1))
    elif mode == "processstart":
        ns = process_start(variant, n)
    else:
        sys.exit("unknown mode " + mode)
    print("ns/op %.3f" % ns, flush=True)


if __name__ == "__main__":
    main()
