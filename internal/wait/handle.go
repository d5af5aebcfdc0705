//go:build linux

package wait

import (
	"sync/atomic"
	"time"
)

// Handle is the close state that every handle on a shared object embeds:
// the one close contract of the package doc.
//
// Calls check Closed (one load) where they begin; blocking calls pass the
// Handle to their Gate and Sleeper, which watch Closing and count the
// goroutines asleep in the kernel. Close marks the handle closed, closes
// Closing — which releases the goroutines parked at gates and stops every
// later sleep before it starts — and then kicks the kernel sleepers every
// millisecond until none is left, so that when Close returns no goroutine
// sleeps on the handle any more. (Goroutines running user code inside a
// call, such as a barrier's Action, are not waited for.) The caller then
// releases the object's file; the mapping goes when the handle is
// unreachable.
//
// Init must be called before use. A nil *Handle never closes.
type Handle struct {
	closed   atomic.Bool
	sleeping atomic.Int64
	closing  chan struct{}
}

// Init prepares h.
func (h *Handle) Init() { h.closing = make(chan struct{}) }

// Closed reports whether Close has been called. It is one load, for fast
// paths; h must not be nil.
func (h *Handle) Closed() bool { return h.closed.Load() }

// closedOrNil is Closed for a Handle that may be nil (never closes).
func (h *Handle) closedOrNil() bool { return h != nil && h.closed.Load() }

// Closing is closed by Close (nil for a nil Handle: never).
func (h *Handle) Closing() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.closing
}

// enterSleep registers a kernel sleep; false means the handle is closed
// (and nothing was registered).
func (h *Handle) enterSleep() bool {
	if h == nil {
		return true
	}
	h.sleeping.Add(1)
	if h.closed.Load() {
		h.sleeping.Add(-1)
		return false
	}
	return true
}

func (h *Handle) exitSleep() {
	if h != nil {
		h.sleeping.Add(-1)
	}
}

// Close marks h closed and waits until no goroutine sleeps in the kernel
// on it, calling kick (which wakes the handle's kernel sleepers; nil if it
// has none) every millisecond meanwhile. It reports whether this call
// closed h; a second Close returns false at once.
func (h *Handle) Close(kick func()) bool {
	if h.closed.Swap(true) {
		return false
	}
	close(h.closing)
	for h.sleeping.Load() > 0 {
		if kick != nil {
			kick()
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
