//go:build linux

package wait

import (
	"context"
	"runtime"
	"sync"
	"weak"
)

// A Gate is this process's waiting room for one shared word: its holder is
// the only goroutine of the process that spins or sleeps in the kernel on
// the word; the others park here, in FIFO order.
//
// The holder leaves in one of two ways, and which one is the protocol of
// the object:
//
//   - Leave hands the gate to the oldest parked goroutine, which becomes
//     the holder (or frees it if none parks). Used when what the holder got
//     satisfies only itself: a lock it took, a token, an item, a grant. The
//     next holder re-checks the word before it sleeps, so a second token is
//     taken at once, and exactly one goroutine wakes per handoff.
//   - LeaveChanged does the same and also tells every parked goroutine to
//     re-check its own condition: used when the word changed in a way that
//     may satisfy all of them (an Event set, a barrier cycle released).
//
// A parked goroutine re-checks after it has registered (Enter does this),
// never only before: a change between a check and the registration is
// followed by a LeaveChanged that the registered goroutine sees. (Checking
// first and parking after loses that change when a newer holder, waiting
// for a later change, took the gate in between.)
//
// The zero Gate is free and ready.
type Gate struct {
	mu         sync.Mutex
	held       bool
	head, tail *gateWaiter
	news       chan struct{} // closed by LeaveChanged; nil until someone parks
}

type gateWaiter struct {
	ready      chan struct{} // a token here makes the waiter the holder
	prev, next *gateWaiter
	queued     bool
}

// Enter makes the caller the holder and returns (true, nil), parking while
// another goroutine holds the gate. While parked it calls recheck (if not
// nil) each time the word may have changed; if recheck reports true, Enter
// returns (false, nil): the caller's wait is over without the gate. It
// returns ctx.Err() or ErrClosed (when h is closed) without the gate. A
// goroutine that got the gate must call Leave or LeaveChanged.
func (g *Gate) Enter(ctx context.Context, h *Handle, recheck func() bool) (bool, error) {
	closing := h.Closing()
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return true, nil
	}
	w := &gateWaiter{ready: make(chan struct{}, 1)}
	g.push(w)
	for {
		if g.news == nil {
			g.news = make(chan struct{})
		}
		news := g.news
		g.mu.Unlock()
		if recheck != nil && recheck() {
			g.withdraw(w)
			return false, nil
		}
		select {
		case <-w.ready:
			return true, nil
		case <-news:
			g.mu.Lock()
		case <-ctx.Done():
			g.withdraw(w)
			return false, ctx.Err()
		case <-closing:
			g.withdraw(w)
			return false, ErrClosed
		}
	}
}

// withdraw takes w, which gives up waiting, out of the queue; if w was
// made the holder meanwhile, it passes the gate on.
func (g *Gate) withdraw(w *gateWaiter) {
	g.mu.Lock()
	if w.queued {
		g.unlink(w)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	<-w.ready // granted just now: we hold the gate
	g.Leave()
}

// Leave gives up the gate, handing it to the oldest parked goroutine.
func (g *Gate) Leave() {
	g.mu.Lock()
	g.handOnLocked()
	g.mu.Unlock()
}

// LeaveChanged gives up the gate like Leave, and tells every parked
// goroutine to re-check its condition.
func (g *Gate) LeaveChanged() {
	g.mu.Lock()
	g.handOnLocked()
	if g.news != nil {
		close(g.news)
		g.news = nil
	}
	g.mu.Unlock()
}

func (g *Gate) handOnLocked() {
	w := g.head
	if w == nil {
		g.held = false
		return
	}
	g.unlink(w)
	w.ready <- struct{}{} // capacity 1, sent once: never blocks
}

func (g *Gate) push(w *gateWaiter) {
	w.queued = true
	w.prev = g.tail
	if g.tail != nil {
		g.tail.next = w
	} else {
		g.head = w
	}
	g.tail = w
}

func (g *Gate) unlink(w *gateWaiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		g.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		g.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}

// Key names one shared word of one object on the machine: the object's
// file (device and inode) and the word's byte offset in it. Every handle
// on the object in a process maps to the same key, whatever address it
// mapped the file at.
type Key struct {
	Dev, Ino uint64
	Off      int64
}

// A Registry holds one T per Key in this process: the process-local state
// that every handle on a shared word shares (a Gate, and whatever else a
// kind keeps per process). Entries are held weakly: a T lives as long as
// some handle refers to it, and its entry is dropped after.
type Registry[T any] struct {
	mu sync.Mutex
	m  map[Key]weak.Pointer[T]
}

// Get returns the T of k, making a zero one if there is none.
func (r *Registry[T]) Get(k Key) *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.m[k].Value(); v != nil {
		return v
	}
	if r.m == nil {
		r.m = make(map[Key]weak.Pointer[T])
	}
	v := new(T)
	r.m[k] = weak.Make(v)
	runtime.AddCleanup(v, func(k Key) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.m[k].Value() == nil {
			delete(r.m, k)
		}
	}, k)
	return v
}

// Len is the number of entries, live or awaiting their cleanup (tests).
func (r *Registry[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
