package barrier

import (
	"sync"
	"sync/atomic"
	"time"
)

// useGuard keeps a Barrier's mapping alive while any goroutine of this
// process uses it: every method enters and exits it, and Close unmaps only
// once the last user has left. Without it, a Close racing a Wait would unmap
// the shared words under a goroutine about to load them — a fault, not an error.
//
// The state word n counts users in its low bits; useClosed marks Close.
type useGuard struct {
	n       atomic.Int64
	closing chan struct{} // closed by close: wakes goroutines parked at the gate
	once    sync.Once
}

const useClosed = 1 << 40

func newUseGuard() useGuard { return useGuard{closing: make(chan struct{})} }

// enter registers a user; false means the object is closed (no user added).
func (g *useGuard) enter() bool {
	if g.n.Add(1) >= useClosed {
		g.n.Add(-1)
		return false
	}
	return true
}

func (g *useGuard) exit() { g.n.Add(-1) }

func (g *useGuard) closed() bool { return g.n.Load() >= useClosed }

// close marks the object closed; it reports whether this call did it.
func (g *useGuard) close() bool {
	for {
		n := g.n.Load()
		if n >= useClosed {
			return false
		}
		if g.n.CompareAndSwap(n, n+useClosed) {
			g.once.Do(func() { close(g.closing) })
			return true
		}
	}
}

// wait returns once every user has left, calling kick every millisecond
// meanwhile so that users asleep in the kernel notice the close.
func (g *useGuard) wait(kick func()) {
	for g.n.Load() != useClosed {
		kick()
		time.Sleep(time.Millisecond)
	}
}

// waitGate lets one goroutine of a handle at a time (the holder) spin and
// sleep in the kernel; the others park on a channel that is closed each
// time a holder leaves. A holder leaves as soon as seq changes (every
// change can satisfy a waiter), so a parked goroutine whose own condition
// came true is woken too, even if a newer holder, waiting for a later
// change, took the gate meanwhile.
//
// A parked goroutine must take the channel first and only then re-check
// its condition: a change between the two is then followed by a holder's
// leave, which closes that very channel. (Checking first and parking after
// loses that change when a newer holder took the gate in between.)
type waitGate struct {
	mu   sync.Mutex
	held bool
	left chan struct{} // closed and cleared by leave; nil if nobody parks
}

// take makes the caller the holder and returns nil, or returns a channel
// that is closed when the current holder leaves.
func (g *waitGate) take() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.held {
		g.held = true
		return nil
	}
	if g.left == nil {
		g.left = make(chan struct{})
	}
	return g.left
}

func (g *waitGate) leave() {
	g.mu.Lock()
	g.held = false
	if g.left != nil {
		close(g.left)
		g.left = nil
	}
	g.mu.Unlock()
}
