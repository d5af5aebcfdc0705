//go:build !race

package sem

import (
	"runtime"

	"github.com/multiproc/multiproc/internal/robust"
)

// The fast paths of Lock and Unlock: one CAS each, inlined into the
// caller. They go through h.fast, which Close replaces by a poisoned Mutex
// on which both CASes fail, so that a closed handle reaches the slow path
// (which reports it) without a check of its own here. A fast path that
// read the old pointer just before Close runs on the lock, still mapped,
// as if it had come before the Close. The pointer is a plain field: a
// word-sized store is read whole (the Go memory model), and an atomic load
// would cost the inlining; race-detector builds check the closed flag
// instead (lock_fast_race.go).

// Lock locks l, waiting as long as it takes. If the owner died holding the
// lock, Lock takes it over and marks it consistent (see Lock's doc). Lock
// panics if the lock is not recoverable or l is closed.
func (l *Lock) Lock() {
	if !l.h.fast.LockFast() {
		l.lockSlow()
	}
	runtime.KeepAlive(l) // and with it the mapping, until the CAS is done
}

// Unlock unlocks l. It panics, naming the lock, if this process does not
// hold l (unlocking an unlocked Lock is a bug, as with sync.Mutex); Release
// is the form that returns the error instead.
func (l *Lock) Unlock() {
	if !l.h.fast.UnlockFast() {
		l.unlockSlow()
	}
	runtime.KeepAlive(l)
}

// lockFast and unlockFast are the CASes of the fast paths, for RLock.
func (h *lockHandle) lockFast() bool   { return h.fast.LockFast() }
func (h *lockHandle) unlockFast() bool { return h.fast.UnlockFast() }

// closeFast makes the fast paths fail from now on.
func (h *lockHandle) closeFast() { h.fast = robust.Closed() }

// An RLock's owner word is a plain word (see RLock's protocol): only the
// holder writes it, and a goroutine can only read its own id there if it
// wrote it itself.

func (r *RLock) ownerIs(g int64) bool { return r.loc.Owner == g }
func (r *RLock) setOwner(g int64)     { r.loc.Owner = g }
