package sem

// A Semaphore handle adds to the shared protocol of internal/posixsem
// (glibc's sem_post/sem_wait, which C and Python follow too) only what
// every multiproc handle has (internal/wait): this process's gate for the
// semaphore, through which one goroutine at a time sleeps in the kernel
// while the others park in the Go scheduler (a goroutine queued at the gate
// is not registered in nwaiters; posts wake the registered sleeper, which
// takes its token and hands the gate to the next goroutine, which tries for
// a token before it sleeps), and the close contract.

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// ValueMax is SEM_VALUE_MAX, the largest value a semaphore can hold
// (Python's multiprocessing.synchronize.SEM_VALUE_MAX).
const ValueMax = posixsem.ValueMax

// A Semaphore is a counting semaphore shared between processes: Python's
// multiprocessing.Semaphore and BoundedSemaphore, stored as a named POSIX
// semaphore in /dev/shm/sem.NAME in exactly the format of 64-bit glibc, so
// C programs (sem_open, sem_wait, sem_post) and Python (through ctypes, or
// multiprocessing's own SemLock files) use the same semaphore at the same
// time as Go.
//
// A Release in any process happens before the Acquire (in any process)
// that takes its token returns.
//
// A BoundedSemaphore refuses a Release that would take its value past its
// initial value, with ErrReleasedTooManyTimes and the semaphore unchanged:
// the check and the increment are one atomic step, so concurrent releasers
// in any number of processes can never push it past the bound (Python
// checks, then posts). C and Python post without knowing the bound.
//
// Semaphores have no owner, so they are not robust: a process killed
// after taking a token never gives it back.
//
// Methods are safe for concurrent use, Close included. The semaphore
// lives as the package documentation's Lifetime says.
type Semaphore struct {
	file  *segment.File // holds the mapping p lives in
	p     posixsem.Sem
	name  string // "/NAME", the form sem_open takes
	kind  layout.Kind
	bound uint32
	gate  *wait.Gate // this process's gate for the semaphore
	life  wait.Handle
}

// semGates holds each semaphore's gate in this process.
var semGates wait.Registry[wait.Gate]

// NewSemaphore creates a semaphore with value tokens (0 ≤ value ≤
// ValueMax). Options: Name (default: a generated "mpgo_sem_…"),
// Persistent, Mode. A taken name is an error wrapping fs.ErrExist.
func NewSemaphore(value int, opts ...Option) (*Semaphore, error) {
	s, err := createSemaphore(layout.KindSemaphore, value, opts)
	return s, failf("NewSemaphore", err)
}

// NewBoundedSemaphore creates a semaphore whose value may never exceed
// value, its initial value: a Release past it fails with
// ErrReleasedTooManyTimes. NewBoundedSemaphore(0) is allowed, as in Python,
// though it can never be released.
func NewBoundedSemaphore(value int, opts ...Option) (*Semaphore, error) {
	s, err := createSemaphore(layout.KindBounded, value, opts)
	return s, failf("NewBoundedSemaphore", err)
}

func createSemaphore(kind layout.Kind, value int, opts []Option) (*Semaphore, error) {
	if value < 0 || value > ValueMax {
		return nil, fmt.Errorf("%w: semaphore value %d: must be from 0 to %d (SEM_VALUE_MAX)", ErrInvalidArgument, value, ValueMax)
	}
	o := collect(opts)
	file, err := o.FileName("sem", "sem.")
	if err != nil {
		return nil, err
	}
	name := file[len("sem."):]
	bound := uint32(ValueMax)
	if kind == layout.KindBounded {
		bound = uint32(value)
	}
	me := proc.Self()
	t := posixsem.Trailer{
		Kind:         kind,
		Bound:        bound,
		Initial:      uint32(value),
		CreatorPID:   uint32(me.PID),
		CreatorStart: me.Start,
		Created:      time.Now().UnixNano(),
	}
	if o.Persistent {
		t.Flags |= layout.FlagPersistent
	}
	f, err := segment.Create(file, posixsem.FileSize, segment.CreateOptions{Mode: o.Mode, Kind: kind, Lifetime: o.Lifetime(kind)}, func(b []byte) error {
		posixsem.Init(b, uint32(value), &t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s, err := newSemaphore(f, name, kind, bound)
	if err != nil {
		f.Unlink()
		f.Close()
		return nil, err
	}
	return s, nil
}

// OpenSemaphore opens a Semaphore or BoundedSemaphore made by this library
// (in any process). Name is given as to NewSemaphore, as Name returns it
// ("/NAME"), or as `multiproc ls` prints it ("sem.NAME", its file). A
// semaphore made by C or Python is refused with ErrKindMismatch: open those
// with OpenNamed; another kind of object, with ErrKindMismatch naming it.
// Option: AllowForeignOwner.
func OpenSemaphore(name string, opts ...Option) (*Semaphore, error) {
	return openSemaphore("OpenSemaphore", name, semAnyOurs, collect(opts))
}

// OpenBoundedSemaphore opens a BoundedSemaphore made by this library; any
// other semaphore is refused with ErrKindMismatch. Option:
// AllowForeignOwner.
func OpenBoundedSemaphore(name string, opts ...Option) (*Semaphore, error) {
	return openSemaphore("OpenBoundedSemaphore", name, semBoundedOnly, collect(opts))
}

// newSemaphore makes the handle for f, whose sem_t has been validated.
func newSemaphore(f *segment.File, name string, kind layout.Kind, bound uint32) (*Semaphore, error) {
	s := new(Semaphore)
	s.init(f, name, kind, bound)
	return s, nil
}

// init makes s, a zero Semaphore, the handle for f.
func (s *Semaphore) init(f *segment.File, name string, kind layout.Kind, bound uint32) {
	s.file, s.name, s.kind, s.bound = f, "/"+name, kind, bound
	s.p = posixsem.At(f.Bytes(), f.Dev, f.Ino)
	s.gate = semGates.Get(wait.Key{Dev: f.Dev, Ino: f.Ino})
	s.life.Init()
}

func (s *Semaphore) errClosed(op string) error { return s.fail(op, ErrClosed) }

// fail is the error of op on s: "sem: op of Semaphore /NAME: err".
func (s *Semaphore) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" of "+s.kind.String()+" "+s.name, err)
}

// Acquire takes a token, waiting while there is none until ctx is done. It
// returns nil with the token taken, or ctx.Err() with the semaphore
// unchanged (like semaphore.Weighted, it may still succeed without
// waiting when ctx is already done and a token is there). A cancellation
// that races with a Release never loses the token or a wake-up another
// waiter needed. ErrClosed after Close.
func (s *Semaphore) Acquire(ctx context.Context) error {
	if !s.life.Closed() && s.p.TryWaitOnce() {
		runtime.KeepAlive(s) // the mapping lives as long as s
		return nil
	}
	return s.acquireSlow(ctx)
}

func (s *Semaphore) acquireSlow(ctx context.Context) error {
	defer runtime.KeepAlive(s)
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.life.Closed() {
		return s.errClosed("Acquire")
	}
	held, err := s.gate.Enter(ctx, &s.life, nil)
	if held {
		err = s.p.Wait(ctx, &s.life, s)
		s.gate.Leave()
	}
	return s.fail("Acquire", err)
}

// TryAcquire takes a token if one is available now and reports whether it
// did. It never blocks; false after Close.
func (s *Semaphore) TryAcquire() bool {
	ok := !s.life.Closed() && s.p.TryWait()
	runtime.KeepAlive(s)
	return ok
}

// Release adds a token and wakes one waiter, in any process. On a
// BoundedSemaphore at its bound it fails with ErrReleasedTooManyTimes; at
// ValueMax with an error wrapping syscall.EOVERFLOW (sem_post's error).
// Either way the semaphore is unchanged.
func (s *Semaphore) Release() error { return s.ReleaseN(1) }

// ReleaseN adds n tokens at once and wakes up to n waiters (Python's
// threading.Semaphore.release(n)). It is all or nothing: if n tokens would
// pass the bound (or ValueMax), none is added.
func (s *Semaphore) ReleaseN(n int) error {
	if n < 1 || n > ValueMax {
		return s.fail("ReleaseN", fmt.Errorf("%w: release of %d tokens: must be from 1 to %d", ErrInvalidArgument, n, ValueMax))
	}
	if s.life.Closed() {
		return s.errClosed("Release")
	}
	err := s.p.Post(uint32(n), s.bound)
	runtime.KeepAlive(s)
	if err != nil {
		return s.releaseError(n, err)
	}
	return nil
}

func (s *Semaphore) releaseError(n int, err error) error {
	v := s.p.Value()
	runtime.KeepAlive(s)
	switch err {
	case posixsem.ErrAboveBound:
		err = fmt.Errorf("%w: value %d, +%d passes the bound %d", ErrReleasedTooManyTimes, v, n, s.bound)
	case syscall.EOVERFLOW:
		err = fmt.Errorf("value %d, +%d passes SEM_VALUE_MAX (%d): %w", v, n, ValueMax, err)
	}
	return s.fail("Release", err)
}

// Value returns the number of tokens available now (sem_getvalue); 0 after
// Close. It is a snapshot: other processes may change it at once.
func (s *Semaphore) Value() int {
	if s.life.Closed() {
		return 0
	}
	v := s.p.Value()
	runtime.KeepAlive(s)
	return int(v)
}

// Waiters returns how many participants (Go, C or Python, in any process)
// are registered as possibly blocked; 0 after Close. It is an upper bound:
// a waiter killed while blocked (SIGKILL) stays counted for good, which
// costs every later Release one needless wake-up system call and nothing
// else. Goroutines queued behind this handle's gate are not counted.
func (s *Semaphore) Waiters() int {
	if s.life.Closed() {
		return 0
	}
	w := s.p.Waiters()
	runtime.KeepAlive(s)
	return int(w)
}

// Name returns the semaphore's name with its leading slash ("/NAME"), the
// form C's sem_open and Python take. OpenSemaphore accepts it as is.
func (s *Semaphore) Name() string { return s.name }

// Bounded reports whether this is a BoundedSemaphore.
func (s *Semaphore) Bounded() bool { return s.kind == layout.KindBounded }

// MaxValue is the largest value Release may reach: the bound of a
// BoundedSemaphore, ValueMax otherwise (Python's SemLock.maxvalue).
func (s *Semaphore) MaxValue() int { return int(s.bound) }

// Close releases this handle: calls blocked in Acquire return ErrClosed
// (Close returns once they have), later calls fail with ErrClosed
// (TryAcquire returns false, Value and Waiters 0), and the file is closed,
// so this process no longer counts as holding it. A call racing with Close
// either completes normally or fails with ErrClosed; it can never touch
// unmapped memory (the mapping goes when the handle is garbage). The
// creator's Close of a semaphore made without a Name removes its name (see
// Lifetime). Close is idempotent.
func (s *Semaphore) Close() error {
	defer runtime.KeepAlive(s)
	// Sleepers of other processes see a spurious wake-up and sleep again.
	if !s.life.Close(s.p.Kick) {
		return nil
	}
	return s.fail("Close", s.file.Close())
}

// Unlink removes the semaphore's name (sem_unlink), before or after Close:
// processes that have it open keep using it, new opens fail with an error
// wrapping fs.ErrNotExist. It removes the name only while it still means
// this semaphore.
func (s *Semaphore) Unlink() error { return s.fail("Unlink", s.file.Unlink()) }
