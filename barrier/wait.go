package barrier

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/proc"
)

// Wait blocks until all parties have called Wait, then returns this
// party's arrival index, 0 for the first to arrive up to Parties()-1 for
// the last (Python's Barrier.wait). The last party runs the Action, if
// any, before anyone is released.
//
// Wait fails with an error wrapping ErrBroken when the barrier is broken or
// breaks meanwhile. If ctx ends, or the Timeout passes, before the cycle
// completes, Wait breaks the barrier for every party, in every process,
// and returns ErrBroken wrapping ctx.Err() (context.DeadlineExceeded for a
// Timeout). The last party to arrive never waits, so it succeeds even with
// an expired context, as in Python. If ctx ends while Wait is still waiting
// for the barrier's internal lock, Wait returns ctx.Err() without having
// joined or broken anything.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	idx, err := b.wait(ctx)
	return idx, b.fail("Wait", err)
}

func (b *Barrier) wait(ctx context.Context) (int, error) {
	if b.life.Closed() {
		return -1, ErrClosed
	}
	b.inside.Add(1)
	defer b.inside.Add(-1)
	w := waiter{ctx: ctx, parent: ctx}
	if b.timeout > 0 {
		var cancel context.CancelFunc
		w.ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	var s section
	if err := b.lock(ctx, &s); err != nil {
		return -1, err
	}
	idx, panicked, err := b.waitLocked(&s, &w)
	b.unlock(&s)
	if panicked != nil {
		panic(panicked)
	}
	if err != nil && b.life.Closed() && !errors.Is(err, ErrClosed) {
		// Another waiter of this handle saw the Close first and broke the
		// barrier: this one ended for the same reason.
		err = fmt.Errorf("%w: %w", ErrBroken, ErrClosed)
	}
	return idx, err
}

// waiter is one Wait's view of why it might stop waiting.
type waiter struct {
	ctx    context.Context // parent, or parent with the Timeout applied
	parent context.Context
}

// cause says why the waiter must stop waiting, nil if it need not.
func (w *waiter) cause(b *Barrier) error {
	if err := w.parent.Err(); err != nil {
		return err
	}
	if w.ctx.Err() != nil {
		return fmt.Errorf("Timeout %v passed: %w", b.timeout, context.DeadlineExceeded)
	}
	if b.life.Closed() {
		return ErrClosed
	}
	return nil
}

func reasonFor(cause error) uint32 {
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		return reasonTimeout
	case errors.Is(cause, ErrClosed):
		return reasonClosed
	}
	return reasonCanceled
}

// waitLocked is Wait with M held (s.held); see the protocol, steps 1 to 4.
func (b *Barrier) waitLocked(s *section, w *waiter) (idx int, panicked any, err error) {
	// 1. Enter.
	for {
		ph := b.phase()
		if ph == phaseFilling {
			break
		}
		if ph != phaseDraining && ph != phaseResetting {
			return -1, nil, b.brokenErr()
		}
		if cause := b.sleep(s, w); cause != nil || !s.held {
			if !s.held {
				return -1, nil, s.err
			}
			b.breakLocked(s, reasonFor(cause))
			return -1, nil, fmt.Errorf("%w: %w", ErrBroken, cause)
		}
	}
	// 2. Arrive.
	idx = int(atomic.LoadUint32(&b.sh.count))
	if idx >= b.parties || atomic.LoadUint64(&b.slots[idx]) != 0 {
		b.repair(s, reasonCorrupt)
		return -1, nil, fmt.Errorf("%w: %w: count %d of %d parties did not match the slot table; repaired", ErrBroken, ErrCorrupt, idx, b.parties)
	}
	atomic.StoreUint64(&b.slots[idx], b.me)
	atomic.StoreUint32(&b.sh.count, uint32(idx+1))
	slot := idx
	defer func() {
		if s.held {
			b.leave(s, slot) // 4. Leave.
		}
	}()

	// 3. Complete the cycle, or wait for it.
	if idx+1 == b.parties {
		if panicked, err = b.release(s); err != nil || panicked != nil {
			return -1, panicked, err
		}
		return idx, nil, nil
	}
	for b.phase() == phaseFilling {
		cause := b.sleep(s, w)
		if !s.held {
			return -1, nil, s.err
		}
		if cause != nil && b.phase() == phaseFilling {
			b.breakLocked(s, reasonFor(cause))
			return -1, nil, fmt.Errorf("%w: %w", ErrBroken, cause)
		}
	}
	if b.phase() == phaseDraining {
		return idx, nil, nil
	}
	return -1, nil, b.brokenErr()
}

// release runs the Action and, if it succeeds, releases the cycle.
func (b *Barrier) release(s *section) (panicked any, err error) {
	if b.action == nil {
		if atomic.LoadUint32(&b.sh.flags)&flagAction != 0 {
			b.breakLocked(s, reasonNoAction)
			return nil, fmt.Errorf("%w: %w (pid %d)", ErrBroken, ErrNoAction, proc.Self().PID)
		}
	} else {
		panicked, err = runAction(b.action)
		if err != nil || panicked != nil {
			b.breakLocked(s, reasonAction)
			if panicked != nil {
				return panicked, nil
			}
			return nil, fmt.Errorf("%w: Action failed: %w", ErrBroken, err)
		}
	}
	atomic.StoreUint32(&b.sh.phase, phaseDraining)
	atomic.StoreUint64(&b.sh.cycles, atomic.LoadUint64(&b.sh.cycles)+1)
	s.notify(b)
	return nil, nil
}

func runAction(fn func() error) (panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	return nil, fn()
}

// leave is step 4 (Python's _exit), with M held.
func (b *Barrier) leave(s *section, idx int) {
	if atomic.LoadUint64(&b.slots[idx]) == b.me {
		atomic.StoreUint64(&b.slots[idx], 0)
		if c := atomic.LoadUint32(&b.sh.count); c > 0 {
			atomic.StoreUint32(&b.sh.count, c-1)
		}
	}
	b.settle(s)
}

// settle ends a drain or a reset once the last party inside has left.
func (b *Barrier) settle(s *section) {
	if atomic.LoadUint32(&b.sh.count) != 0 {
		return
	}
	if ph := b.phase(); ph == phaseDraining || ph == phaseResetting {
		atomic.StoreUint32(&b.sh.phase, phaseFilling)
		atomic.StoreUint32(&b.sh.reason, reasonNone)
		atomic.StoreUint32(&b.sh.breaker, 0)
		s.notify(b)
	}
}

// Abort breaks the barrier: every party waiting now, in every process,
// gets ErrBroken, and so does every Wait until Reset (Python's abort). It
// waits as long as it takes for the barrier's internal lock (held only
// briefly, unless a holder is stopped or an Action runs long); AbortContext
// bounds that wait.
func (b *Barrier) Abort() error { return b.AbortContext(context.Background()) }

// AbortContext is Abort, giving up with ctx.Err() (and changing nothing)
// if ctx ends before the barrier's internal lock is taken.
func (b *Barrier) AbortContext(ctx context.Context) error {
	if b.life.Closed() {
		return b.fail("Abort", ErrClosed)
	}
	var s section
	if err := b.lock(ctx, &s); err != nil {
		return b.fail("Abort", err)
	}
	b.breakLocked(&s, reasonAbort)
	b.unlock(&s)
	return nil
}

// Reset returns the barrier to its initial, empty state. Parties waiting
// now get ErrBroken; Waits that begin before they have all left wait for
// that, then start a fresh cycle (Python's reset). Like Abort it waits as
// long as it takes for the internal lock; ResetContext bounds that wait.
func (b *Barrier) Reset() error { return b.ResetContext(context.Background()) }

// ResetContext is Reset, giving up with ctx.Err() (and changing nothing)
// if ctx ends before the barrier's internal lock is taken.
func (b *Barrier) ResetContext(ctx context.Context) error {
	if b.life.Closed() {
		return b.fail("Reset", ErrClosed)
	}
	var s section
	if err := b.lock(ctx, &s); err != nil {
		return b.fail("Reset", err)
	}
	if atomic.LoadUint32(&b.sh.count) > 0 {
		if ph := b.phase(); ph != phaseDraining {
			atomic.StoreUint32(&b.sh.phase, phaseResetting)
			atomic.StoreUint32(&b.sh.reason, reasonReset)
			atomic.StoreUint32(&b.sh.breaker, uint32(proc.Self().PID))
		}
	} else {
		atomic.StoreUint32(&b.sh.phase, phaseFilling)
		atomic.StoreUint32(&b.sh.reason, reasonNone)
		atomic.StoreUint32(&b.sh.breaker, 0)
	}
	s.notify(b)
	b.unlock(&s)
	return nil
}

// breakLocked is Python's _break, recording why and by whom.
func (b *Barrier) breakLocked(s *section, reason uint32) {
	b.breakBy(s, reason, uint32(proc.Self().PID))
}

func (b *Barrier) breakBy(s *section, reason, pid uint32) {
	atomic.StoreUint32(&b.sh.phase, phaseBroken)
	atomic.StoreUint32(&b.sh.reason, reason)
	atomic.StoreUint32(&b.sh.breaker, pid)
	s.notify(b)
}

// phase reads the phase; values we do not know read as broken.
func (b *Barrier) phase() uint32 {
	ph := atomic.LoadUint32(&b.sh.phase)
	if ph > phaseBroken {
		return phaseBroken
	}
	return ph
}
