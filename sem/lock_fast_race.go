//go:build race

package sem

import "runtime"

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

func (h *lockHandle) closeFast() {}
