//go:build linux

package wait

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/multiproc/multiproc/internal/errs"
	"github.com/multiproc/multiproc/internal/futex"
)

// ErrClosed is returned by Sleep, and by Gate.Enter, when the handle the
// wait belongs to was closed (errs.ErrClosed).
var ErrClosed = errs.ErrClosed

// A Sleeper is one goroutine's kernel sleeps on one futex word during one
// wait: it bounds each sleep by the poll interval and the context's
// deadline, and turns a cancel of the context into a wake-up. Make it with
// NewSleeper, call Sleep in the caller's loop, and Stop when the wait is
// over, however it ends.
type Sleeper struct {
	ctx      context.Context
	word     *uint32
	keep     any     // holds the mapping of word while a kick may touch it
	h        *Handle // nil: the handle cannot close under this wait
	deadline time.Time
	hasDL    bool
	kick     *kick
}

// NewSleeper prepares the sleeps of one wait on word. keep must keep
// word's mapping alive (the handle or its file): the cancel kick may run
// after the waiter itself has returned. h is the handle whose Close ends
// the wait (nil if none).
func NewSleeper(ctx context.Context, word *uint32, keep any, h *Handle) Sleeper {
	s := Sleeper{ctx: ctx, word: word, keep: keep, h: h}
	s.deadline, s.hasDL = ctx.Deadline()
	return s
}

// Sleep sleeps in the kernel while *word == expect: until a wake-up, a
// spurious wake-up, the end of one poll interval, or the context's
// deadline. It returns nil in all those cases — callers loop and re-check
// their own state, and also whatever liveness they must (slice reports
// whether the whole slice passed, the moment to check on a peer) — and
// ctx.Err() once the context has ended, ErrClosed once the handle is
// closed; those are checked before sleeping too. The first sleep arms the
// cancel kick.
func (s *Sleeper) Sleep(expect uint32) (slice bool, err error) {
	if err := s.stopped(); err != nil {
		return false, err
	}
	if s.kick == nil && s.ctx.Done() != nil {
		s.kick = armKick(s.ctx, s.word, s.keep)
	}
	end := time.Now().Add(PollInterval())
	until := end
	if s.hasDL && s.deadline.Before(until) {
		until = s.deadline
	}
	if !s.h.enterSleep() {
		return false, ErrClosed
	}
	err = futex.Wait(s.word, expect, until)
	s.h.exitSleep()
	if err != nil && err != futex.ErrTimeout {
		return false, err // EFAULT and friends: a bug, reported
	}
	if err := s.stopped(); err != nil {
		return false, err
	}
	return !time.Now().Before(end), nil
}

// Err reports why the wait must end — ctx.Err() or ErrClosed — or nil.
func (s *Sleeper) Err() error { return s.stopped() }

// stopped reports why the wait must end, if it must.
func (s *Sleeper) stopped() error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if s.hasDL && !time.Now().Before(s.deadline) {
		// The futex timed out at the deadline; the context's own timer
		// fires within moments. Wait for it, so that the error is
		// ctx.Err() itself, as callers compare.
		<-s.ctx.Done()
		return s.ctx.Err()
	}
	if s.h.closedOrNil() {
		return ErrClosed
	}
	return nil
}

// Stop ends the sleeps: the cancel kick, if armed, stops kicking. It is
// safe to call more than once.
func (s *Sleeper) Stop() {
	if s.kick != nil {
		s.kick.disarm()
		s.kick = nil
	}
}

// A kick wakes the sleepers on a word when a context is cancelled, so a
// cancelled waiter leaves the kernel at once. A deadline needs no kick: the
// futex timeout is the deadline.
type kick struct {
	stop func() bool
	left atomic.Bool
}

// kickRepeats bounds how long a kick goes on trying to reach a waiter that
// has not left yet (one try a millisecond).
const kickRepeats = 100

func armKick(ctx context.Context, word *uint32, keep any) *kick {
	k := new(kick)
	k.stop = context.AfterFunc(ctx, func() {
		if ctx.Err() != context.Canceled {
			return
		}
		for i := 0; i < kickRepeats && !k.left.Load(); i++ {
			futex.WakeAll(word)
			time.Sleep(time.Millisecond)
		}
		runtime.KeepAlive(keep) // word's mapping lives as long as this function may run
	})
	return k
}

func (k *kick) disarm() {
	k.left.Store(true)
	k.stop()
}
