package sem

// A Condition is a sequence word beside a lock (technical.md §3.2, Rust
// std's futex condvar, Go's notifyList), not a set of semaphores as in
// CPython, so that no wake-up is lost and Notify never blocks.
//
// Protocol. Shared words (in the condition's file):
//
//	seq      bumped by every Notify/NotifyAll that finds a waiter; the
//	         futex word waiters sleep on
//	waiters  goroutines (in all processes) between registering in Wait and
//	         leaving it
//
// Wait, called with the lock held: waiters++, s := seq, release the lock
// (all levels of an RLock), spin briefly (SetSpin) watching seq, then sleep
// on seq while seq == s, in slices of at most the poll interval and never
// past ctx's deadline (a cancel wakes the sleepers at once); then
// waiters--, and take the lock again (all levels) before returning,
// whatever the outcome.
//
// Notify(n): if waiters == 0, return (no system call); else seq++ and wake
// n sleepers. NotifyAll: the same, waking all.
//
// Why no wake-up is lost: the waiter reads seq while it still holds the
// lock, and a notifier that changed the predicate under the lock bumps seq
// after that read. So the bump either lands before the waiter's futex call
// (the kernel sees seq != s and returns at once) or finds the waiter queued
// (and wakes it). The waiters count is read under the same lock, so a
// notifier never skips a registered waiter. Waiting in slices makes the
// rest bounded: a notifier killed between its bump and its wake, a wake
// the kernel gave to a sleeper that registered later (possible only when
// Notify is called without the lock), and the 2^32 wrap of seq.
//
// A waiter whose ctx ends in the same instant as a notification that
// reaches it reports the notification (nil): a notification is never
// swallowed by a waiter that then says it was not notified.

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
)

// condLayout is the payload of a Condition file.
//
//	offset size field
//	     0   64 own RLock record (used when flavor is condOwnRLock)
//	    64    4 seq       futex word; see the protocol
//	    68    4 waiters
//	    72    4 flavor    condOwnRLock, condLock or condRLock
//	    76    4 lockKind  kind of the object holding an outside lock
//	    80    8 lockOff   byte offset of its lock record in that file
//	    88    4 nameLen   length of the outside lock's object name
//	    92    4 (reserved, zero)
//	    96  256 name      the outside lock's object name
//	   352   32 (reserved, zero)
type condLayout struct {
	own      [robust.RecordSize]byte
	seq      uint32
	waiters  uint32
	flavor   uint32
	lockKind uint32
	lockOff  uint64
	nameLen  uint32
	_        uint32
	name     [256]byte
	_        [32]byte
}

const condPayload = 384

var _ [condPayload - unsafe.Sizeof(condLayout{})]byte
var _ [unsafe.Sizeof(condLayout{}) - condPayload]byte

// Flavors: which lock a Condition uses.
const (
	condOwnRLock = 1 // its own RLock, in its own file
	condLock     = 2 // an outside *Lock
	condRLock    = 3 // an outside *RLock
)

// A Condition is a condition variable shared by processes: Python's
// multiprocessing.Condition. Goroutines in any process that holds the
// Condition open wait on it with the lock held, and are woken by Notify or
// NotifyAll from any process.
//
// Waiters must re-check their condition after Wait returns (WaitFor does):
// as with every condition variable, a wake-up may be spurious, and Notify
// may wake more waiters than asked. Change the predicate with the lock
// held, and call Notify and NotifyAll with it held too, as Python
// requires. A Notify called after Unlock still reaches every waiter that
// had begun waiting (its wake-up may be late by up to the poll interval),
// but a predicate changed without the lock can be missed by a waiter that
// checked it just before, and that waiter then sleeps until the next
// Notify.
//
// Each goroutine blocked in Wait holds an OS thread (Lock waiters share one
// per process; see the package's Caveats).
type Condition struct {
	obj       *segment.Object
	c         *condLayout
	l         condLocker
	ownsLock  bool         // l is its own RLock or was opened by OpenCondition
	closeLock func() error // closes the file of a lock OpenCondition opened
	closed    atomic.Bool
}

// condLocker is what a Condition needs from its lock: *Lock or *RLock.
type condLocker interface {
	sync.Locker
	LockContext(ctx context.Context) error
	handle() *lockHandle
	// release frees the lock, which the caller must hold, entirely, and
	// returns what reacquire needs to restore the hold.
	release() (depth int64, err error)
	// reacquire takes the lock back (without a deadline) at depth.
	reacquire(depth int64) error
}

func (l *Lock) handle() *lockHandle { return &l.h }

func (l *Lock) release() (int64, error) {
	if err := l.h.checkOpen("Lock"); err != nil {
		return 0, err
	}
	if err := l.h.m().Unlock(); err != nil {
		return 0, l.h.unlockError("Lock", err)
	}
	return 1, nil
}

func (l *Lock) reacquire(int64) error {
	return l.h.lockError("Lock", l.h.m().Lock(context.Background()))
}

func (r *RLock) handle() *lockHandle { return &r.h }

func (r *RLock) release() (int64, error) {
	if err := r.h.checkOpen("RLock"); err != nil {
		return 0, err
	}
	if !r.owned() {
		return 0, r.h.unlockError("RLock", robust.ErrNotOwner)
	}
	depth := r.loc.Depth.Load()
	return depth, r.releaseAll()
}

func (r *RLock) reacquire(depth int64) error {
	err := r.h.m().Lock(context.Background())
	if err == nil || err == robust.ErrOwnerDead {
		r.took()
		r.loc.Depth.Store(depth)
	}
	return r.h.lockError("RLock", err)
}

// NewCondition creates a Condition on lock, a *Lock or an *RLock (Python's
// Condition(lock)); with a nil lock the Condition makes its own RLock, kept
// in its own file. The Condition records which lock it uses, so that
// OpenCondition in another process opens both. Closing the Condition does
// not close a lock passed in.
func NewCondition(lock sync.Locker, opts ...Option) (*Condition, error) {
	var l condLocker
	switch lk := lock.(type) {
	case nil:
	case *Lock:
		if lk != nil {
			l = lk
		}
	case *RLock:
		if lk != nil {
			l = lk
		}
	default:
		return nil, fmt.Errorf("%w: NewCondition: a lock of type %T; want *sem.Lock, *sem.RLock or nil", ErrInvalidArgument, lock)
	}
	if l != nil {
		if err := l.handle().checkOpen("Lock"); err != nil {
			return nil, err
		}
	}
	obj, err := createLockObject(layout.KindCondition, condPayload, collect(opts), func(p []byte) error {
		c := (*condLayout)(unsafe.Pointer(&p[0]))
		switch l.(type) {
		case nil:
			c.flavor = condOwnRLock
			return nil
		case *Lock:
			c.flavor = condLock
		case *RLock:
			c.flavor = condRLock
		}
		h := l.handle()
		c.lockKind, c.lockOff = uint32(h.kind), uint64(h.off)
		c.nameLen = uint32(copy(c.name[:], h.name))
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Condition{obj: obj, c: payloadLayout(obj)}
	if l == nil {
		l = newRLock(func(h *lockHandle) { h.initBorrowed(obj.File, layout.KindCondition, layout.HeaderSize) })
		c.ownsLock = true
	}
	c.l = l
	return c, nil
}

func payloadLayout(obj *segment.Object) *condLayout {
	return (*condLayout)(unsafe.Pointer(&obj.Payload[0]))
}

// OpenCondition opens the Condition called name and the lock it uses. A
// missing name is an error wrapping fs.ErrNotExist; another kind of object
// wraps ErrKindMismatch; a damaged file, or one naming an impossible lock,
// wraps ErrCorrupt.
func OpenCondition(name string, opts ...Option) (*Condition, error) {
	o := collect(opts)
	obj, err := openObject(name, layout.KindCondition, condPayload, o)
	if err != nil {
		return nil, err
	}
	c := &Condition{obj: obj, c: payloadLayout(obj), ownsLock: true}
	if err := c.openLock(o); err != nil {
		obj.Close()
		return nil, err
	}
	return c, nil
}

// openLock opens the lock the condition's file names, validating every
// byte it reads from there.
func (c *Condition) openLock(o options) error {
	corrupt := func(format string, args ...any) error {
		return &fs.PathError{Op: "open", Path: c.obj.Path(), Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
	}
	flavor := atomic.LoadUint32(&c.c.flavor)
	if flavor == condOwnRLock {
		c.l = newRLock(func(h *lockHandle) { h.initBorrowed(c.obj.File, layout.KindCondition, layout.HeaderSize) })
		return nil
	}
	if flavor != condLock && flavor != condRLock {
		return corrupt("condition lock flavor %d", flavor)
	}
	kind, off, n := layout.Kind(c.c.lockKind), c.c.lockOff, c.c.nameLen
	if n == 0 || n > uint32(len(c.c.name)) {
		return corrupt("lock name length %d", n)
	}
	lockName := string(c.c.name[:n])
	if _, err := segment.CleanName(lockName, ""); err != nil {
		return corrupt("lock name: %v", err)
	}
	switch {
	case !kind.Valid() || kind == layout.KindRaw || kind == layout.KindCondition:
		return corrupt("lock in an object of kind %s", kind)
	case kind == layout.KindLock && flavor != condLock, kind == layout.KindRLock && flavor != condRLock:
		return corrupt("a %s used as the other kind of lock", kind)
	case off < layout.HeaderSize || off%8 != 0 || off > 1<<40:
		return corrupt("lock record at offset %d", off)
	}
	lobj, err := segment.OpenObject(lockName, kind, nil, segment.OpenOptions{AllowForeignOwner: o.allowForeign})
	if err != nil {
		return fmt.Errorf("sem: Condition %s: opening its lock: %w", c.obj.Name, err)
	}
	if off+robust.RecordSize > uint64(lobj.Size()) {
		lobj.Close()
		return corrupt("lock record at offset %d outside the %d-byte %s %s", off, lobj.Size(), kind, lockName)
	}
	init := func(h *lockHandle) {
		h.initBorrowed(lobj.File, kind, int(off))
		if kind == layout.KindLock || kind == layout.KindRLock {
			h.obj = lobj // its own object: Unlink works on it
		}
	}
	if flavor == condLock {
		l := new(Lock)
		init(&l.h)
		c.l = l
	} else {
		c.l = newRLock(init)
	}
	c.closeLock = lobj.Close
	return nil
}

// Lock locks the Condition's lock (see Lock.Lock and RLock.Lock).
func (c *Condition) Lock() { c.l.Lock() }

// Unlock unlocks the Condition's lock.
func (c *Condition) Unlock() { c.l.Unlock() }

// LockContext locks the Condition's lock, waiting at most until ctx ends
// (see Lock.LockContext).
func (c *Condition) LockContext(ctx context.Context) error { return c.l.LockContext(ctx) }

// Locker returns the Condition's lock: the *Lock or *RLock it was made
// with, or its own *RLock.
func (c *Condition) Locker() sync.Locker { return c.l }

// Wait releases the lock, which the caller must hold (all levels of an
// RLock), waits until notified or until ctx ends, and takes the lock back
// before it returns, whatever it returns. It returns nil when notified (or
// woken spuriously: re-check the condition, or use WaitFor), ctx.Err() when
// ctx ended first, an error wrapping ErrNotOwner (and does not wait) when
// the caller does not hold the lock, and an error wrapping ErrOwnerDead
// (held) or ErrNotRecoverable (not held) when taking the lock back found
// its owner dead or the lock unrecoverable.
//
// Taking the lock back is not bounded by ctx, as in Python: locks are held
// briefly, and a caller that gets ctx.Err() holds the lock as it expects.
func (c *Condition) Wait(ctx context.Context) error {
	if c.closed.Load() {
		return fmt.Errorf("sem: Condition %s: %w", c.obj.Name, ErrClosed)
	}
	atomic.AddUint32(&c.c.waiters, 1)
	s := atomic.LoadUint32(&c.c.seq)
	depth, err := c.l.release()
	if err != nil {
		atomic.AddUint32(&c.c.waiters, ^uint32(0))
		return err
	}
	notified := c.sleep(ctx, s)
	atomic.AddUint32(&c.c.waiters, ^uint32(0))
	if err := c.l.reacquire(depth); err != nil {
		return err
	}
	if notified {
		return nil
	}
	return ctx.Err()
}

// sleep waits for seq to move from s, or for ctx to end; it reports
// whether seq moved. Like a lock waiter, it first spins (yielding the CPU
// between looks) for the SetSpin time: a notification from a running
// process then arrives in about a µs instead of the tens a sleeping CPU
// takes to wake.
func (c *Condition) sleep(ctx context.Context, s uint32) bool {
	if robust.SpinWait(func() bool { return atomic.LoadUint32(&c.c.seq) != s }) {
		return true
	}
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if atomic.LoadUint32(&c.c.seq) != s {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		deadline := time.Now().Add(robust.PollInterval())
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { futex.WakeAll(&c.c.seq) })
		}
		futex.Wait(&c.c.seq, s, deadline)
	}
}

// WaitFor waits until pred returns true: Python's wait_for. It calls pred
// with the lock held, first before waiting at all, and again after each
// wake-up; it returns nil once pred is true. If ctx ends first it returns
// ctx.Err() (unless pred has become true meanwhile). The lock is held when
// WaitFor returns, as with Wait; its other errors are Wait's.
func (c *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.Wait(ctx); err != nil {
			if ctx.Err() != nil && err == ctx.Err() && pred() {
				return nil
			}
			return err
		}
	}
	return nil
}

// Notify wakes n goroutines waiting on c, in any process. With no waiters
// it does nothing, not even a system call.
//
// "n" is what the kernel is asked for, not a bound: every waiter that began
// waiting before Notify sees the sequence word move, so one that is still
// spinning, or between two bounded sleeps, returns as notified too (like
// pthread_cond_signal, which may wake more than one). Python's notify(n)
// wakes at most n; code that loops on its predicate (WaitFor) cannot tell.
func (c *Condition) Notify(n int) {
	if n <= 0 || c.closed.Load() || atomic.LoadUint32(&c.c.waiters) == 0 {
		return
	}
	atomic.AddUint32(&c.c.seq, 1)
	condWake(&c.c.seq, n)
}

// NotifyAll wakes every goroutine waiting on c, in every process.
func (c *Condition) NotifyAll() { c.Notify(1<<31 - 1) }

// condWake is futex.Wake, replaceable by tests that count system calls.
var condWake = futex.Wake

// Waiters reports how many goroutines, in all processes, wait on c. It is
// a hint: a process killed while waiting stays counted (and then Notify
// makes a harmless system call).
func (c *Condition) Waiters() int { return int(int32(atomic.LoadUint32(&c.c.waiters))) }

// Name returns the name other processes pass to OpenCondition.
func (c *Condition) Name() string { return c.obj.Name }

// Close releases this process's handle on c, and on the lock if
// OpenCondition opened it (a lock passed to NewCondition stays open).
// Close is idempotent; afterwards Wait returns ErrClosed and Notify does
// nothing.
func (c *Condition) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	var err error
	if c.ownsLock {
		c.l.handle().close() // its handle now refuses use
	}
	if c.closeLock != nil {
		err = c.closeLock()
	}
	if cerr := c.obj.Close(); err == nil {
		err = cerr
	}
	return err
}

// Unlink removes c's name (its own RLock goes with it; a lock passed to
// NewCondition does not). Processes that have it open keep using it.
func (c *Condition) Unlink() error { return c.obj.Remove() }
