//go:build linux

// Package posixsem is glibc's named POSIX semaphore in pure Go: the 32-byte
// sem_t of 64-bit glibc ≥ 2.21 in a MAP_SHARED mapping of
// /dev/shm/sem.NAME, with glibc's sem_post and sem_wait protocol to the
// letter, so that C's sem_open/sem_post/sem_wait, Python (which calls the
// same functions) and Go work on one semaphore at the same time.
//
// A file multiproc creates carries a 64-byte trailer after the sem_t
// (kind, bound, creator). glibc maps only the first 32 bytes, so C and
// Python never see it; a plain 32-byte file is a semaphore made by someone
// else ("foreign") and is an unbounded Semaphore.
//
// The package is shared by the sem package (which adds handles, a
// per-process gate and Close) and by the tracker and CLI, which read a
// semaphore's state with Inspect without opening it through sem.
//
// What it refuses: the pre-2.21 layout (value at 0, private at 4), 32-bit
// layouts, a sem_t whose futex flag is not "shared", and any file whose
// size is neither 32 nor 32+TrailerSize. It never trusts the file: every
// field is validated before use and nothing is read out of bounds.
//
// # Caveats
//
//   - A semaphore has no owner, so it cannot be robust: a process killed
//     after taking a token never gives it back.
//   - The waiter count is an upper bound. A waiter killed while blocked
//     (SIGKILL) leaves it incremented for good; the only cost is one useless
//     FUTEX_WAKE per later post. It is never "repaired", because any rewrite
//     would race with C waiters.
//   - A goroutine blocked in the kernel holds an OS thread; the sem package
//     lets only a few goroutines per handle sleep there.
package posixsem
