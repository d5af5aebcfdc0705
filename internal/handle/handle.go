package handle

import (
	"sync"
	"sync/atomic"
	"time"
)

// Guard keeps a handle's mapping alive while any goroutine of this process
// uses it: every method Enters and Exits it, and Close unmaps only once
// the last user has left (Wait). Without it, a Close racing a blocking call
// would unmap the shared words under a goroutine about to load them — a
// fault, not an error.
//
// The state word n counts users in its low bits; guardClosed marks Close.
type Guard struct {
	n       atomic.Int64
	closing chan struct{} // closed by Close: wakes goroutines parked at a Gate
	once    sync.Once
}

const guardClosed = 1 << 40

// NewGuard returns an open Guard.
func NewGuard() Guard { return Guard{closing: make(chan struct{})} }

// Enter registers a user; false means the handle is closed (no user added).
func (g *Guard) Enter() bool {
	if g.n.Add(1) >= guardClosed {
		g.n.Add(-1)
		return false
	}
	return true
}

// Exit unregisters a user registered by Enter.
func (g *Guard) Exit() { g.n.Add(-1) }

// Closed reports whether Close was called.
func (g *Guard) Closed() bool { return g.n.Load() >= guardClosed }

// Closing is closed once Close has been called.
func (g *Guard) Closing() <-chan struct{} { return g.closing }

// Close marks the handle closed; it reports whether this call did it.
func (g *Guard) Close() bool {
	for {
		n := g.n.Load()
		if n >= guardClosed {
			return false
		}
		if g.n.CompareAndSwap(n, n+guardClosed) {
			g.once.Do(func() { close(g.closing) })
			return true
		}
	}
}

// Wait returns once every user has left, calling kick every millisecond
// meanwhile so that users asleep in the kernel notice the close.
func (g *Guard) Wait(kick func()) {
	for g.n.Load() != guardClosed {
		kick()
		time.Sleep(time.Millisecond)
	}
}

// Gate lets one goroutine of a handle at a time (the holder) spin and sleep
// in the kernel; the others park on a channel that is closed each time a
// holder leaves. A holder leaves as soon as the shared word changes in any
// way that can satisfy a waiter, so a parked goroutine whose own condition
// came true is woken too, even if a newer holder, waiting for a later
// change, took the gate meanwhile.
//
// A parked goroutine must Take the channel first and only then re-check its
// condition: a change between the two is then followed by a holder's
// Leave, which closes that very channel. (Checking first and parking after
// loses that change when a newer holder took the gate in between.)
type Gate struct {
	mu   sync.Mutex
	held bool
	left chan struct{} // closed and cleared by Leave; nil if nobody parks
}

// Take makes the caller the holder and returns nil, or returns a channel
// that is closed when the current holder leaves.
func (g *Gate) Take() <-chan struct{} {
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

// Leave gives up the gate and wakes every goroutine parked on it.
func (g *Gate) Leave() {
	g.mu.Lock()
	g.held = false
	if g.left != nil {
		close(g.left)
		g.left = nil
	}
	g.mu.Unlock()
}
