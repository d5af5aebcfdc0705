// Package sem gives separate OS processes the synchronization primitives
// that Python's multiprocessing gives Python processes, with Go manners:
//
//   - Lock: a mutual exclusion lock (a sync.Locker) that survives the death
//     of its owner.
//   - RLock: the same, reentrant for the goroutine that holds it.
//   - Condition: a condition variable on a Lock or an RLock.
//   - Event: a flag that processes wait on until it is set.
//   - Semaphore (NewSemaphore, NewBoundedSemaphore): counting semaphores,
//     stored as glibc-compatible named POSIX semaphores, so that C's
//     sem_wait and sem_post work on them concurrently with Go.
//   - OpenNamed: a semaphore that C's sem_open or Python made.
//
// Every object lives in a small file under /dev/shm, mapped into each
// process that uses it. A New* function creates one (with a generated name
// unless the Name option gives one) and an Open* function opens it by name
// in another process: the name is all a worker needs. Each object has Name
// and Close; Unlink removes the name.
//
// # Names
//
// An Open* function takes the name as its New* reported it in Name(),
// with or without a leading slash, and as `multiproc ls` prints it: a
// semaphore's file is sem.NAME (glibc's naming), so OpenSemaphore("x"),
// OpenSemaphore("/x") and OpenSemaphore("sem.x") all open semaphore x.
// Names starting with "sem." are therefore refused for every New*
// (ErrInvalidName): a Lock called sem.x would open as a semaphore's file.
// Opening an object as another kind says what it is ("jobs is a
// Semaphore, not a Lock", "frames is a raw segment, not an Event"), with
// ErrKindMismatch.
//
// # Closing handles
//
// Close follows one contract for every handle: calls blocked on the handle
// return ErrClosed and Close returns once they have; later calls return
// ErrClosed (or, for Lock, which returns no error, panic saying so); a call
// racing Close completes or fails that way and never touches unmapped
// memory (the mapping goes when the handle is unreachable). A lock held
// through a handle stays held by Close: Unlock and Release still release
// it, so a goroutine in its critical section when another closes the
// handle finishes normally.
//
// # Errors
//
// Errors name the package, the operation and the object ("sem: LockContext
// of Lock jobs: object closed") and wrap the sentinels below, which are the
// same values in every multiproc package: value.ErrOwnerDead is
// ErrOwnerDead, barrier.ErrClosed is ErrClosed.
//
// Blocking calls take a context.Context (LockContext, Wait, Acquire): a
// cancelled or expired context returns ctx.Err() promptly and leaves the
// object as it was. Each has a Try form that never blocks.
//
// # Lifetime
//
// As in Python: an object made without a Name lives while its creator
// holds it. The creator's Close, or its exit, removes the name, silently;
// processes that opened it keep using it, later opens fail with
// fs.ErrNotExist. An object given a Name is meant to be found by others
// and stays until someone calls Unlink, like Python's SharedMemory: the
// resource tracker removes one forgotten at the program's end, with one
// line on stderr saying so. A Persistent object is never touched; only
// Unlink or `multiproc rm` removes it. Only a creator killed by a signal
// makes the tracker speak about objects made without a Name. A handle
// dropped without Close ends nothing: the object then lives until its
// creator exits.
//
// # Uncontended speed and waiting
//
// The uncontended Lock/Unlock pair is one CAS each on a 64-bit word in the
// shared file: no system call, no process-local mutex; it costs about what
// a sync.Mutex pair costs. Waiting is done on futexes (FUTEX_WAIT on the
// shared word, keyed by the file's inode, so processes meet whatever address
// they mapped it at), after a short spin (SetSpin).
//
// # Robust locks
//
// A Lock or RLock belongs to a process. If the process dies holding it, even
// by SIGKILL, a waiter notices within about 100 ms (SetPollInterval): the
// lock word holds the owner's pid and an identity tag, which the waiter
// checks: on Linux 6.9 and later the tag comes from the process's pidfs
// inode, unique per boot, so a reused pid never passes for the dead owner;
// on older kernels it is the start time, which a pid reused within the same
// 10 ms clock tick could match. The waiter takes the lock over, and
// LockContext reports ErrOwnerDead with the lock held, so that the caller
// can repair what the dead process left half done, then call
// MarkConsistent. If it unlocks without repairing, the lock becomes not
// recoverable (ErrNotRecoverable) for every process: nobody builds on data
// that nobody repaired. These are the states of pthread's robust mutexes.
// Lock and TryLock, which cannot return an error, take a dead owner's lock
// over and mark it consistent themselves.
//
// # Caveats
//
//   - A goroutine blocked in a futex wait holds an OS thread. Goroutines of
//     one process waiting on the same object share one: the others park in
//     the Go scheduler. So a process holds at most one blocked thread per
//     object it waits on, whatever the number of goroutines.
//   - A waiter spins for up to SetSpin (50 µs) before it sleeps, on machines
//     with more than one CPU online: that much CPU per wait buys handoffs of
//     about a µs instead of the tens of µs a sleeping CPU takes to wake.
//   - At most 128 processes can wait on one Condition at the same time.
//   - A process with the file owner's rights can truncate an object's file
//     under a handle. Opening such a file is an error (ErrCorrupt), and the
//     tracker and `multiproc` carry on past it; but a handle already open
//     faults (SIGBUS) on its next access, which kills the process unless
//     the goroutine asked for a panic instead: debug.SetPanicOnFault(true)
//     (runtime/debug) makes it a runtime.Error panic to recover from. The
//     fast paths do not do this themselves: it would cost every operation.
//   - Semaphores have no owner, so they are not robust: a process killed
//     while it holds a unit never gives it back (the same holds for C and
//     Python semaphores). Use a Lock where a holder may die.
//   - Robustness relies on pids. Processes that share /dev/shm but not a pid
//     namespace (containers with a shared IPC namespace or tmpfs volume)
//     cannot tell whether each other's processes live, so opening a Lock,
//     RLock or Condition made in another pid namespace fails with
//     ErrPidNamespace. Semaphores and Events hold no pids and work across
//     namespaces.
//   - A process that is stopped (SIGSTOP, a debugger) is alive: its locks
//     stay held. Robustness is not a timeout; use LockContext with a
//     deadline for that.
//   - A process that calls exec keeps its locks until it exits: to the
//     kernel it is the same process (same pid, start time and pidfs inode).
//     pthread releases robust mutexes at exec only through the exec'ing
//     thread's robust list, which Go cannot keep. Unlock before exec.
//   - On architectures other than amd64 and arm64, an RLock keeps its
//     holder on one OS thread while held (see RLock).
package sem
