"""Python multiprocessing baselines for bench/python_test.go.

Usage: pybaseline.py WHAT N  -- runs WHAT N times in a tight loop and prints
the elapsed seconds. Objects come from the spawn context, as a Python program
that shares them with other processes would make them.
"""
import multiprocessing as mp
import sys
import time


def main():
    what, n = sys.argv[1], int(sys.argv[2])
    ctx = mp.get_context("spawn")
    if what == "lock":
        l = ctx.Lock()
        acquire, release = l.acquire, l.release

        def op():
            acquire()
            release()
    elif what == "rlock":
        r = ctx.RLock()
        acquire, release = r.acquire, r.release

        def op():
            acquire()
            release()
    elif what == "semaphore":
        s = ctx.Semaphore(1)
        acquire, release = s.acquire, s.release

        def op():
            acquire()
            release()
    elif what == "value":
        v = ctx.Value("q", 0)
        lock = v.get_lock()

        def op():
            with lock:
                v.value += 1
    else:
        sys.exit("unknown baseline " + what)
    start = time.perf_counter()
    for _ in range(n):
        op()
    print(time.perf_counter() - start)


if __name__ == "__main__":
    main()
