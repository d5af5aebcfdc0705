package sem

import (
	"sync"
	"sync/atomic"
	"time"
)

// eventGuard keeps an Event's mapping alive while any goroutine of this
// process uses it: every method enters and exits it, and Close unmaps only
// once the last user has left. Without it, a Close racing a Wait would unmap
// the word under a goroutine about to load it — a fault, not an error.
//
// The state word n counts users in its low bits; eventClosed marks Close.
type eventGuard struct {
	n       atomic.Int64
	closing chan struct{} // closed by close: wakes goroutines parked at the gate
	once    sync.Once
}

const eventClosed = 1 << 40

func newEventGuard() eventGuard { return eventGuard{closing: make(chan struct{})} }

// enter registers a user; false means the object is closed (no user added).
func (g *eventGuard) enter() bool {
	if g.n.Add(1) >= eventClosed {
		g.n.Add(-1)
		return false
	}
	return true
}

func (g *eventGuard) exit() { g.n.Add(-1) }

func (g *eventGuard) closed() bool { return g.n.Load() >= eventClosed }

// close marks the object closed; it reports whether this call did it.
func (g *eventGuard) close() bool {
	for {
		n := g.n.Load()
		if n >= eventClosed {
			return false
		}
		if g.n.CompareAndSwap(n, n+eventClosed) {
			g.once.Do(func() { close(g.closing) })
			return true
		}
	}
}

// wait returns once every user has left, calling kick every millisecond
// meanwhile so that users asleep in the kernel notice the close.
func (g *eventGuard) wait(kick func()) {
	for g.n.Load() != eventClosed {
		kick()
		time.Sleep(time.Millisecond)
	}
}

// eventGate lets one goroutine of a handle at a time (the holder) spin and
// sleep in the kernel; the others park on a channel that is closed each
// time a holder leaves. A holder leaves as soon as the word changes in any
// way that can satisfy a waiter, so a parked goroutine whose own condition
// came true is woken too, even if a newer holder, waiting for a later
// change, took the gate meanwhile.
//
// A parked goroutine must take the channel first and only then re-check
// its condition: a change between the two is then followed by a holder's
// leave, which closes that very channel. (Checking first and parking after
// loses that change when a newer holder took the gate in between.)
type eventGate struct {
	mu   sync.Mutex
	held bool
	left chan struct{} // closed and cleared by leave; nil if nobody parks
}

// take makes the caller the holder and returns nil, or returns a channel
// that is closed when the current holder leaves.
func (g *eventGate) take() <-chan struct{} {
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

func (g *eventGate) leave() {
	g.mu.Lock()
	g.held = false
	if g.left != nil {
		close(g.left)
		g.left = nil
	}
	g.mu.Unlock()
}
