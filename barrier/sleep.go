package barrier

// Holding M, and sleeping on seq without it (the protocol's Sleep).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/robust"
	"golang.org/x/sys/unix"
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
	// Through the gate: at most one goroutine of this handle sleeps in the
	// kernel; the others park until a holder leaves, then re-check.
	for {
		left := b.gate.Take()
		if left == nil {
			break
		}
		if atomic.LoadUint32(&b.sh.seq) != seq0 {
			return nil, false
		}
		select {
		case <-left:
		case <-w.ctx.Done():
			return w.cause(b), false
		case <-b.use.Closing():
			return ErrClosed, false
		}
	}
	defer b.gate.Leave()
	if cause := w.cause(b); cause != nil {
		return cause, false // e.g. an expired context: do not spin first
	}
	if b.spin(seq0) {
		return nil, false
	}
	var left atomic.Bool
	stop := context.AfterFunc(w.ctx, func() {
		for i := 0; i < 100 && !left.Load(); i++ {
			b.kick()
			time.Sleep(time.Millisecond)
		}
	})
	defer func() { left.Store(true); stop() }()

	deadline, hasDeadline := w.ctx.Deadline()
	for {
		if atomic.LoadUint32(&b.sh.seq) != seq0 {
			return nil, false
		}
		if cause := w.cause(b); cause != nil {
			return cause, false
		}
		sliceEnd := time.Now().Add(barrierSlice)
		until := sliceEnd
		if hasDeadline && deadline.Before(until) {
			until = deadline
		}
		futex.Wait(&b.sh.seq, seq0, until) // wake, timeout or error alike: re-check
		if atomic.LoadUint32(&b.sh.seq) == seq0 && !time.Now().Before(sliceEnd) && b.someoneDied() {
			return nil, true
		}
	}
}

// spin watches seq for up to barrierSpin before a kernel sleep.
func (b *Barrier) spin(seq0 uint32) bool {
	if barrierSpin <= 0 || runtime.GOMAXPROCS(0) < 2 {
		return false // on one P, spinning only delays a party of this process
	}
	start := time.Now()
	for i := 1; ; i++ {
		if atomic.LoadUint32(&b.sh.seq) != seq0 {
			return true
		}
		if i%barrierSpinYield == 0 {
			if time.Since(start) > barrierSpin {
				return false
			}
			if b.inside.Load() > 1 {
				// Other goroutines of this process are parties: the one
				// that will end our wait may need this P.
				runtime.Gosched()
			} else {
				unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			}
		}
	}
}

// kick wakes this barrier's kernel sleepers so they re-check their
// contexts; safe at any time, even during or after Close.
func (b *Barrier) kick() {
	if b.use.Enter() {
		futex.WakeAll(&b.sh.seq)
		b.use.Exit()
	}
}

// kickSeq is kick for Close, which holds the mapping itself.
func (b *Barrier) kickSeq() { futex.WakeAll(&b.sh.seq) }
