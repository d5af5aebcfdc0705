// Package wait is multiproc's one waiting core: how every object that
// blocks — Lock, RLock, Condition, Event, Semaphore, Barrier, Queue, Pipe —
// waits on a 32-bit futex word in shared memory, and how its handles close.
//
// A wait has up to three stages, each in one place here:
//
//  1. The gate (Gate). Per process and per shared word, one goroutine at a
//     time — the gate's holder — spins and sleeps in the kernel; the other
//     goroutines of the process that wait on the same word park in the Go
//     scheduler, where a cancelled context or a closed handle reaches them
//     at once. A thousand goroutines waiting on one object hold one OS
//     thread, not a thousand. Handles on the same object in one process
//     share the gate (Registry keys it by device, inode and offset).
//  2. The spin (SpinUntil). Waking a sleeping process on this kind of
//     machine (a VM) costs tens of µs; a peer running on another CPU
//     usually answers within a few. So the holder first watches its
//     condition for a short, tunable time (SetSpin), yielding the CPU
//     between bursts of looks. Whether to spin depends on whether another
//     CPU can run the peer at all — the CPUs online on the machine — not on
//     this process's GOMAXPROCS: a process pinned to one CPU (GOMAXPROCS 1)
//     usually talks to a peer on another. With GOMAXPROCS 1 the yield also
//     lets the process's other goroutines run, since one of them may be the
//     peer.
//  3. The sleep (Sleeper). FUTEX_WAIT on the word, in slices of at most the
//     poll interval (SetPollInterval) and never past the context's
//     deadline. Between slices the caller re-checks its state and the
//     liveness of whoever it waits for (a lock's owner, a barrier's
//     parties), so a peer killed at the worst moment costs at most one
//     slice. A cancelled context kicks the sleeper out of the kernel at
//     once (and again every millisecond until it has left, since one wake
//     can land just before it enters the kernel); a kick wakes the word's
//     other sleepers too, which re-check and sleep on.
//
// The close contract (Handle): Close marks the handle closed, releases the
// goroutines parked at its gates, kicks its kernel sleepers until every
// blocking call in progress on it has returned ErrClosed, and only then
// gives up the object's file. The mapping itself is released when the
// handle is unreachable (see internal/segment's File), so a call racing
// Close never touches unmapped memory; fast paths pay one load of the
// closed flag at most.
//
// The tunables are process-wide and govern every object: SetSpin and
// SetPollInterval (sem.SetSpin and sem.SetPollInterval set them).
package wait
