//go:build linux

package robust

// The slow paths of Lock and TryLock, in the order of the protocol at the
// top of mutex.go.

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/wait"
)

func (m *Mutex) lockSlow(ctx context.Context) error {
	defer runtime.KeepAlive(m)
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.h != nil && m.h.Closed() {
		return wait.ErrClosed
	}
	start := time.Now()
	atomic.AddUint32(&m.rec.waiting, 1)
	defer atomic.AddUint32(&m.rec.waiting, ^uint32(0))

	// 1. The gate: one goroutine per process goes on.
	if held, err := m.st.gate.Enter(ctx, m.h, nil); !held {
		return err
	}
	defer m.st.gate.Leave()

	// 2. Spin.
	if wait.SpinUntil(m.takeFree) {
		return m.acquiredSlow()
	}

	// 3. Sleep in bounded slices.
	sl := wait.NewSleeper(ctx, m.futexWord(), m, m.h)
	defer sl.Stop()
	slept := false
	for {
		w := atomic.LoadUint64(&m.rec.word)
		if w == 0 {
			nw := m.me
			if slept {
				nw |= wordWaiters
			}
			if atomic.CompareAndSwapUint64(&m.rec.word, 0, nw) {
				return m.acquiredSlow()
			}
			continue
		}
		if w == wordPoisoned {
			return ErrNotRecoverable
		}
		if owner(w) == m.me && w&wordHanded != 0 {
			// Handed to this process (an heir of ours that gave up, say):
			// ours to take.
			if m.accept(w) {
				return m.acquiredSlow()
			}
			continue
		}
		if w&wordWaiters == 0 {
			if !atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordWaiters) {
				continue
			}
			w |= wordWaiters
		}
		slept = true
		if !ownerAlive(w, m.me) {
			if err, ok := m.takeOver(w); ok {
				return err
			}
			continue
		}
		m.stampIfUnstamped(w)
		if time.Since(start) > starveAfter && m.becomeHeir() {
			return m.waitAsHeir(ctx)
		}
		_, err := sl.Sleep(uint32(w)) // woken, timed out or spurious: re-check
		if testHookAfterWait != nil {
			testHookAfterWait(m)
			err = sl.Err()
		}
		if err != nil {
			m.handBack()
			return err
		}
	}
}

// takeFree takes the lock if it reads free: the spinner's look.
func (m *Mutex) takeFree() bool {
	return atomic.LoadUint64(&m.rec.word) == 0 && atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me)
}

// takeOver replaces w, whose owner is dead, by our word and reports
// whether it did; the error is what the taker's Lock returns.
func (m *Mutex) takeOver(w uint64) (err error, ok bool) {
	if !atomic.CompareAndSwapUint64(&m.rec.word, w, m.me|wordWaiters) {
		return nil, false
	}
	if w&wordHanded != 0 {
		// Handed to a process that died before it accepted: it never ran
		// with the lock, so the data is as its last real holder left it.
		return m.acquiredSlow(), true
	}
	return m.tookOver(), true
}

// acquiredSlow finishes an acquisition that went through the slow path
// by stamping the time (the clock is affordable here) — if the waiters bit
// is set, so that the unlock clears the stamp (see record).
func (m *Mutex) acquiredSlow() error {
	raceAcquire(m)
	if atomic.LoadUint64(&m.rec.word)&wordWaiters != 0 {
		m.stampNow()
	}
	return nil
}

// tookOver finishes the takeover of a dead owner's word (which the taker's
// CAS replaced by me|waiters).
func (m *Mutex) tookOver() error {
	raceAcquire(m)
	m.stampNow()
	m.st.markDirty()
	atomic.StoreUint32(&m.rec.state, stateInconsistent)
	atomic.AddUint32(&m.rec.takeovers, 1)
	return ErrOwnerDead
}

// handBack is called by a waiter that gives up after it may have set the
// waiters bit or consumed a wake: see the protocol, step 3.
func (m *Mutex) handBack() {
	for {
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case w == 0:
			wake(m.futexWord(), 1)
			return
		case w&wordWaiters != 0 || w == wordPoisoned:
			return
		case atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordWaiters):
			return
		}
	}
}

// becomeHeir makes this waiter the heir if there is none (a dead heir is
// dropped first) and reports whether it did.
func (m *Mutex) becomeHeir() bool {
	for {
		h := atomic.LoadUint64(&m.rec.heir)
		switch {
		case h == m.me:
			return true // ours from an earlier attempt that lost its claimer
		case h == 0:
			if atomic.CompareAndSwapUint64(&m.rec.heir, 0, m.me) {
				return true
			}
		case alive(h, m.me):
			return false
		default:
			atomic.CompareAndSwapUint64(&m.rec.heir, h, 0) // a dead heir
		}
	}
}

// dropHeir gives up the heir's place after acquiring the lock some other
// way (if an unlocker claimed it meanwhile, there is nothing left to drop).
func (m *Mutex) dropHeir() { atomic.CompareAndSwapUint64(&m.rec.heir, m.me, 0) }

// waitAsHeir waits, as the heir, for the lock to be handed to us. Once an
// unlocker has claimed us (heir is no longer ours) the handoff is on its
// way: the claimer, who holds the lock, writes the handed word at once —
// or dies first, and then we take its lock over as any dead owner's.
func (m *Mutex) waitAsHeir(ctx context.Context) error {
	sl := wait.NewSleeper(ctx, &m.rec.heirSeq, m, m.h)
	defer sl.Stop()
	for {
		seq := atomic.LoadUint32(&m.rec.heirSeq)
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case w == 0:
			if atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me|wordWaiters) {
				m.dropHeir()
				return m.acquiredSlow()
			}
			continue
		case w == wordPoisoned:
			m.dropHeir()
			return ErrNotRecoverable
		case owner(w) == m.me && w&wordHanded != 0:
			if m.accept(w) {
				return m.acquiredSlow()
			}
			continue
		}
		if w&(wordHandoff|wordWaiters) != wordHandoff|wordWaiters {
			if !atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordHandoff|wordWaiters) {
				continue
			}
			w |= wordHandoff | wordWaiters
		}
		if !ownerAlive(w, m.me) {
			if err, ok := m.takeOver(w); ok {
				m.dropHeir()
				return err
			}
			continue
		}
		if _, err := sl.Sleep(seq); err != nil {
			return m.heirGiveUp(err)
		}
	}
}

// accept takes the lock that an unlocker handed us (word w: ours, handed).
func (m *Mutex) accept(w uint64) bool {
	return atomic.CompareAndSwapUint64(&m.rec.word, w, w&^wordHanded)
}

// heirGiveUp withdraws an heir whose wait must end (ctx or Close). If an
// unlocker claimed us already, the lock is on its way: take it and unlock
// it again, so that it goes to the next waiter instead of to nobody.
func (m *Mutex) heirGiveUp(err error) error {
	if atomic.CompareAndSwapUint64(&m.rec.heir, m.me, 0) {
		m.handBack()
		return err
	}
	for {
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case owner(w) == m.me && w&wordHanded != 0:
			if m.accept(w) {
				raceAcquire(m)
				m.Unlock()
				return err
			}
			continue
		case w == 0, w == wordPoisoned, !ownerAlive(w, m.me):
			// Never handed (its claimer died): the lock goes on without us.
			m.handBack()
			return err
		}
		futex.Wait(&m.rec.heirSeq, atomic.LoadUint32(&m.rec.heirSeq), time.Now().Add(time.Millisecond))
	}
}

func (m *Mutex) tryLockSlow() (bool, error) {
	defer runtime.KeepAlive(m)
	for {
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case w == 0:
			if atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me) {
				return true, m.acquiredSlow()
			}
			continue
		case w == wordPoisoned:
			return false, ErrNotRecoverable
		case ownerAlive(w, m.me):
			return false, nil
		}
		if err, ok := m.takeOver(w); ok {
			return true, err
		}
	}
}

// TryLock acquires the lock if it is free, or if its owner is dead (then
// with ErrOwnerDead, held). It never blocks. It reports whether the caller
// now holds the lock; with ErrNotRecoverable it does not.
func (m *Mutex) TryLock() (bool, error) {
	if m.LockFast() {
		runtime.KeepAlive(m)
		return true, nil
	}
	return m.tryLockSlow()
}

// testHookAfterWait, when set, runs after every kernel sleep of a waiter.
var testHookAfterWait func(*Mutex)
