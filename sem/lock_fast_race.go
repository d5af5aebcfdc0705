//go:build race

package sem

import (
	"runtime"
	"sync/atomic"
)

// Lock and Unlock for race-detector builds: the same as lock_fast.go's, but
// with an explicit closed check instead of the pointer swap, which the
// detector would report as a race with every fast path.

// Lock locks l (see lock_fast.go).
func (l *Lock) Lock() {
	if l.h.closed() || !l.h.mu.LockFast() {
		l.lockSlow()
	}
	runtime.KeepAlive(l)
}

// Unlock unlocks l (see lock_fast.go).
func (l *Lock) Unlock() {
	if l.h.closed() || !l.h.mu.UnlockFast() {
		l.unlockSlow()
	}
	runtime.KeepAlive(l)
}

func (h *lockHandle) lockFast() bool   { return !h.closed() && h.mu.LockFast() }
func (h *lockHandle) unlockFast() bool { return !h.closed() && h.mu.UnlockFast() }

func (h *lockHandle) closeFast() {}

// The RLock's owner word, read by goroutines that do not hold the lock
// while its holder writes it: atomic here, so that the detector sees no
// race (lock_fast.go has the plain form and why it is correct).

func (r *RLock) ownerIs(g int64) bool { return atomic.LoadInt64(&r.loc.Owner) == g }
func (r *RLock) setOwner(g int64)     { atomic.StoreInt64(&r.loc.Owner, g) }
