"""semtool.py: the Python side of the semaphore interop tests.

Modes (the semaphore calls go through ctypes to libc, as a Python program
sharing a named POSIX semaphore with C would do):

  semtool.py post    NAME N          N sem_posts
  semtool.py wait    NAME N          N sem_waits
  semtool.py counter NAME FILE N     N times: sem_wait; ++counter in FILE; sem_post
  semtool.py mp                      multiprocessing (spawn context) Semaphore(0):
                                     prints "name /mp-...", then obeys stdin lines
                                     "acquire N", "release N", "exit"

Each mode prints "ok" at the end.
"""
import ctypes
import ctypes.util
import mmap
import os
import struct
import sys


def libc():
    lib = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    lib.sem_open.restype = ctypes.c_void_p
    lib.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for f in (lib.sem_post, lib.sem_wait, lib.sem_close):
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p]
    return lib


def open_sem(lib, name):
    s = lib.sem_open(name.encode(), 0)
    if s is None or s == ctypes.c_void_p(-1).value:
        err = ctypes.get_errno()
        sys.exit("sem_open %s: %s" % (name, os.strerror(err)))
    return s


def call(f, s, what):
    while f(s) != 0:
        err = ctypes.get_errno()
        if err != 4:  # EINTR
            sys.exit("%s: %s" % (what, os.strerror(err)))


def main():
    mode = sys.argv[1]
    if mode in ("post", "wait"):
        lib = libc()
        s = open_sem(lib, sys.argv[2])
        f = lib.sem_post if mode == "post" else lib.sem_wait
        for _ in range(int(sys.argv[3])):
            call(f, s, "sem_" + mode)
    elif mode == "counter":
        lib = libc()
        s = open_sem(lib, sys.argv[2])
        with open(sys.argv[3], "r+b") as fh:
            m = mmap.mmap(fh.fileno(), 8)
            for _ in range(int(sys.argv[4])):
                call(lib.sem_wait, s, "sem_wait")
                (c,) = struct.unpack_from("<Q", m, 0)
                struct.pack_into("<Q", m, 0, c + 1)
                call(lib.sem_post, s, "sem_post")
            m.close()
    elif mode == "mp":
        import multiprocessing

        sem = multiprocessing.get_context("spawn").Semaphore(0)
        print("name", sem._semlock.name, flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if cmd[0] == "acquire":
                for _ in range(int(cmd[1])):
                    if not sem.acquire(timeout=30):
                        sys.exit("acquire timed out")
                print("acquired", flush=True)
            elif cmd[0] == "release":
                for _ in range(int(cmd[1])):
                    sem.release()
                print("released", flush=True)
            elif cmd[0] == "exit":
                break
    else:
        sys.exit("bad mode " + mode)
    print("ok", flush=True)


if __name__ == "__main__":
    main()
