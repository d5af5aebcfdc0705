package barrier

// Holding M, and sleeping on seq without it (the protocol's Sleep).

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/wait"
)

// section is one holding of M by one goroutine: whether it holds M (a
// not-recoverable lock can take it away), and whether a wake is owed once M
// is released.
type section struct {
	held bool
	wake bool
	err  error // why held is false
}

// notify is Python's notify_all: bump seq; the wake follows the unlock.
func (s *section) notify(b *Barrier) {
	atomic.AddUint32(&b.sh.seq, 1)
	if atomic.LoadUint32(&b.sh.sleepers) != 0 {
		s.wake = true
	}
}

// lock takes M. A dead previous holder is dealt with here: the barrier is
// repaired and broken, and M marked consistent.
func (b *Barrier) lock(ctx context.Context, s *section) error {
	err := b.mu.Lock(ctx)
	if errors.Is(err, robust.ErrOwnerDead) {
		s.held = true
		b.repair(s, reasonDied)
		b.mu.MarkConsistent()
		return nil
	}
	if err != nil {
		s.held, s.err = false, fmt.Errorf("%w: %w", ErrBroken, err)
		if ctx.Err() != nil {
			s.err = err
		}
		return s.err
	}
	s.held = true
	return nil
}

func (b *Barrier) unlock(s *section) {
	if s.held {
		b.mu.Unlock()
		s.held = false
	}
	if s.wake {
		s.wake = false
		futex.WakeAll(&b.sh.seq)
	}
}

// sleep is one condition-variable wait on seq (see the protocol). It is
// called and returns with M held, unless relocking failed (s.held false,
// s.err set). It returns the waiter's cause to stop, if it has one.
func (b *Barrier) sleep(s *section, w *waiter) error {
	seq := atomic.LoadUint32(&b.sh.seq)
	atomic.AddUint32(&b.sh.sleepers, 1)
	b.unlock(s)
	cause, died := b.await(seq, w)
	b.lock(context.Background(), s)
	if !s.held {
		return cause
	}
	if c := atomic.LoadUint32(&b.sh.sleepers); c > 0 {
		atomic.StoreUint32(&b.sh.sleepers, c-1)
	}
	if died {
		b.removeDead(s)
	}
	return cause
}

// await waits, without M, until seq moves from seq0, the waiter must stop,
// or another party in the slot table is found dead (died).
func (b *Barrier) await(seq0 uint32, w *waiter) (cause error, died bool) {
	moved := func() bool { return atomic.LoadUint32(&b.sh.seq) != seq0 }
	held, err := b.gate.Enter(w.ctx, &b.life, moved)
	if !held {
		if err == nil {
			return nil, false // seq moved while parked
		}
		return w.cause(b), false
	}
	// Any change of seq may concern every party here: let them all look.
	defer b.gate.LeaveChanged()
	if cause := w.cause(b); cause != nil {
		return cause, false // e.g. an expired context: do not spin first
	}
	if wait.SpinUntilLocal(moved, func() bool { return b.inside.Load() > 1 }) {
		return nil, false
	}
	sl := wait.NewSleeper(w.ctx, &b.sh.seq, b, &b.life)
	defer sl.Stop()
	for {
		if moved() {
			return nil, false
		}
		if cause := w.cause(b); cause != nil {
			return cause, false
		}
		slice, err := sl.Sleep(seq0) // wake, timeout or error alike: re-check
		if err != nil {
			continue // the cause is read above, in the barrier's words
		}
		if slice && !moved() && b.someoneDied() {
			return nil, true
		}
	}
}

// kick wakes this barrier's kernel sleepers so they re-check their
// contexts (Close uses it); others see a spurious wake-up.
func (b *Barrier) kick() { futex.WakeAll(&b.sh.seq) }
