//go:build linux

package posixsem

// The protocol, glibc's (nptl/sem_post.c, nptl/sem_waitcommon.c, 64-bit
// atomics), which every participant follows — C, Python and Go alike:
//
// One 64-bit word, data, holds the value (tokens available) in its low 32
// bits and nwaiters (participants that may be blocked) in its high 32 bits.
// The futex word is the value half; sleepers wait on it with expected
// value 0, so changes to nwaiters never disturb a sleeper.
//
//   - post: CAS data d → d+1, refusing when the value is SEM_VALUE_MAX
//     (EOVERFLOW). If d (the very snapshot the CAS replaced) had
//     nwaiters > 0, FUTEX_WAKE 1. Making the token available and deciding
//     whether to wake is one atomic step; after it the poster touches only
//     the futex syscall (POSIX destruction safety).
//   - trywait: while the value is > 0, CAS d → d−1.
//   - wait: after a failed trywait, register: fetch_add(data, 1<<32). Then
//     loop: if the value is 0, FUTEX_WAIT(value half, 0) and reload; if it
//     is > 0, CAS d → d − 1 − (1<<32), taking a token and unregistering in
//     one step. On timeout or cancellation, unregister: data −= 1<<32.
//
// Our additions, all invisible to C and Python:
//
//   - Bounded release: the post CAS also refuses when the value would pass
//     the bound, so the check and the increment are one atomic step and a
//     refused release changes nothing (Python checks, then posts).
//   - Waiting follows the one core (internal/wait): a short spin before
//     registering (a token that appears meanwhile is taken without any
//     system call on either side: the poster sees no waiter), then sleeps
//     bounded by the poll interval, so a wake that went astray (a poster
//     killed between its CAS and its wake, or a glibc waiter that was woken
//     and then timed out without taking the token) delays a Go waiter by
//     one interval, never forever.
//   - Cancellation: a cancelled context kicks the sleepers on the word
//     (they re-check; spurious wakes are part of the futex contract), and
//     the cancelled waiter unregisters. If a post chose it for its one
//     wake-up, that wake-up is passed on: unregistering leaves the token in
//     place and, when tokens and other registered waiters remain, wakes one
//     of them. The simpler "just subtract 1<<32" of glibc strands that
//     other waiter until the next post.
//   - nwaiters is never decremented below zero: if something reset it, the
//     unregister and take steps leave the high half alone.
//
// Memory model: a post (in any process) happens before the wait that takes
// its token returns (seq-cst CAS on data; for Go's race detector, which
// cannot see atomics on mapped memory, see race.go).

import (
	"context"
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/wait"
)

// Fields of the data word; who changes them: posters add to the value,
// waiters take from it (CAS, anyone); a waiter adds itself to nwaiters and
// is the only one who removes itself.
const (
	valueMask   = 1<<32 - 1 // bits 0..31: value, the futex word
	waitersOne  = 1 << 32   // bits 32..63: nwaiters
	waiterShift = 32
)

// ErrAboveBound is returned by Post when the value would pass the bound.
var ErrAboveBound = errors.New("posixsem: value would pass the bound")

// Sem is a semaphore in a mapping. The mapping must outlive every call.
type Sem struct {
	data *uint64 // offset 0 of the mapping: value | nwaiters<<32
	race *uint64 // race-detector sync variable; nil without -race
}

// At returns the semaphore at the start of b, a mapping of at least Size
// bytes whose sem_t the caller has validated (Parse). dev and ino identify
// the file, so that every handle on it in this process shares one
// race-detector sync variable.
func At(b []byte, dev, ino uint64) Sem {
	if len(b) < Size || uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		panic("posixsem: At needs an 8-byte aligned mapping of at least 32 bytes")
	}
	return Sem{data: (*uint64)(unsafe.Pointer(&b[0])), race: raceVar(dev, ino)}
}

// word is the futex word: the value half of data.
func (s Sem) word() *uint32 { return (*uint32)(unsafe.Pointer(s.data)) }

// Load returns the whole data word.
func (s Sem) Load() uint64 { return atomic.LoadUint64(s.data) }

// Value is the number of tokens available (sem_getvalue).
func (s Sem) Value() uint32 { return uint32(atomic.LoadUint64(s.data)) }

// Waiters is nwaiters: participants that may be blocked, an upper bound.
func (s Sem) Waiters() uint32 { return uint32(atomic.LoadUint64(s.data) >> waiterShift) }

// TryWait takes a token if there is one (sem_trywait: it retries the CAS
// while tokens remain, so false means the value was 0).
func (s Sem) TryWait() bool {
	for {
		d := atomic.LoadUint64(s.data)
		if d&valueMask == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(s.data, d, d-1) {
			raceAcquire(s.race)
			return true
		}
	}
}

// TryWaitOnce is sem_wait's fast path: one attempt to take a token, which
// may fail spuriously under contention (callers then go to Wait).
func (s Sem) TryWaitOnce() bool {
	d := atomic.LoadUint64(s.data)
	if d&valueMask != 0 && atomic.CompareAndSwapUint64(s.data, d, d-1) {
		raceAcquire(s.race)
		return true
	}
	return false
}

// Post adds n tokens (n ≥ 1) unless the value would pass bound (at most
// ValueMax): then it returns unix.EOVERFLOW when bound is ValueMax, and
// ErrAboveBound otherwise, and changes nothing. It wakes as many sleepers
// as tokens it added, but never more than are registered.
func (s Sem) Post(n, bound uint32) error {
	for {
		d := atomic.LoadUint64(s.data)
		if uint64(uint32(d))+uint64(n) > uint64(bound) {
			if bound >= ValueMax {
				return unix.EOVERFLOW
			}
			return ErrAboveBound
		}
		raceRelease(s.race)
		if atomic.CompareAndSwapUint64(s.data, d, d+uint64(n)) {
			if w := d >> waiterShift; w > 0 {
				futex.Wake(s.word(), int(min(uint64(n), w)))
			}
			return nil
		}
	}
}

// Wait takes a token, sleeping while there is none, until ctx is done
// (ctx.Err()) or the handle h is closed (wait.ErrClosed; h may be nil). Without a token
// available it never succeeds after ctx is done; with one, it may. keep
// must keep the mapping alive (the caller's handle). Errors from the futex
// call itself (a bug: the mapping is gone) are returned after
// unregistering.
func (s Sem) Wait(ctx context.Context, h *wait.Handle, keep any) error {
	if s.TryWait() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if wait.SpinUntil(func() bool { return atomic.LoadUint64(s.data)&valueMask != 0 && s.TryWait() }) {
		return nil
	}
	return s.waitSlow(ctx, h, keep)
}

func (s Sem) waitSlow(ctx context.Context, h *wait.Handle, keep any) error {
	sl := wait.NewSleeper(ctx, s.word(), keep, h)
	defer sl.Stop()
	d := atomic.AddUint64(s.data, waitersOne) - waitersOne // register
	for {
		if d&valueMask != 0 {
			if atomic.CompareAndSwapUint64(s.data, d, take(d)) {
				raceAcquire(s.race)
				return nil
			}
			d = atomic.LoadUint64(s.data)
			continue
		}
		if _, err := sl.Sleep(0); err != nil {
			s.unregister()
			return err
		}
		d = atomic.LoadUint64(s.data)
	}
}

// take is the word after taking a token and unregistering in one step.
func take(d uint64) uint64 {
	if d>>waiterShift == 0 { // nwaiters was reset under us: leave it at 0
		return d - 1
	}
	return d - 1 - waitersOne
}

// unregister removes this waiter from nwaiters and passes on a wake-up it
// may have swallowed: if tokens remain and others are registered, wake one.
func (s Sem) unregister() {
	for {
		d := atomic.LoadUint64(s.data)
		if d>>waiterShift == 0 {
			return
		}
		n := d - waitersOne
		if atomic.CompareAndSwapUint64(s.data, d, n) {
			if n&valueMask != 0 && n>>waiterShift != 0 {
				futex.Wake(s.word(), 1)
			}
			return
		}
	}
}

// Kick wakes every sleeper on the semaphore (in every process) so that
// each re-checks its state; used by Close to release this process's
// waiters. Sleepers elsewhere see a spurious wake-up and sleep again.
func (s Sem) Kick() { futex.WakeAll(s.word()) }
