package sem

import (
	"context"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
)

// A Lock is a mutual exclusion lock shared by processes: Python's
// multiprocessing.Lock, with a sync.Mutex's manners and a robust owner.
//
// The lock belongs to a process, not a goroutine: any goroutine of the
// owning process may unlock it, as with sync.Mutex. Goroutines of one
// process exclude each other as well as other processes. An Unlock in any
// process happens before the next successful Lock in any process.
//
// If the owning process dies holding the lock (even by SIGKILL), a waiter
// notices within about 100 ms (SetPollInterval), takes the lock over and,
// in LockContext, gets ErrOwnerDead with the lock held: it repairs the
// protected data, calls MarkConsistent, and unlocks. Unlocking without
// MarkConsistent makes the lock not recoverable: every later LockContext
// fails with ErrNotRecoverable, so nobody trusts data that nobody repaired
// (pthread's robust mutex contract; Python would deadlock forever, Boost
// throws and forbids recovery).
//
// Lock, which cannot return an error, takes a dead owner's lock over and
// marks it consistent itself: code written for a sync.Locker has no repair
// step to run. Use LockContext where a half-finished update by a killed
// process matters. On a not recoverable lock, Lock panics.
//
// The uncontended Lock/Unlock pair is one CAS each, no system call.
type Lock struct {
	h lockHandle
}

var _ interface {
	Lock()
	Unlock()
} = (*Lock)(nil)

// lockPayload is the payload of a Lock file: one lock record.
const lockPayload = robust.RecordSize

// NewLock creates a Lock. Without the Name option its name is generated;
// give the name to other processes (Name) and they OpenLock it.
func NewLock(opts ...Option) (*Lock, error) {
	obj, err := createLockObject(layout.KindLock, lockPayload, collect(opts), nil)
	if err != nil {
		return nil, failf("NewLock", err)
	}
	l := new(Lock)
	l.h.initOwn("Lock", obj)
	return l, nil
}

// OpenLock opens the Lock called name, made by NewLock in any process. A
// missing name is an error wrapping fs.ErrNotExist; another kind of object
// wraps ErrKindMismatch, naming what it is; a damaged file wraps ErrCorrupt.
func OpenLock(name string, opts ...Option) (*Lock, error) {
	obj, err := openObject(name, layout.KindLock, lockPayload, collect(opts), nil)
	if err != nil {
		return nil, failf("OpenLock "+name, err)
	}
	l := new(Lock)
	l.h.initOwn("Lock", obj)
	return l, nil
}

func (l *Lock) lockSlow() {
	if l.h.closed() {
		panic(l.h.fail("Lock", ErrClosed).Error())
	}
	switch err := l.h.m().Lock(context.Background()); err {
	case nil:
	case robust.ErrOwnerDead:
		l.h.m().MarkConsistent()
	default:
		panic(l.h.fail("Lock", err).Error())
	}
}

// LockContext locks l, waiting until it is free or ctx ends. It returns
// nil; an error wrapping ErrOwnerDead with the lock held (the previous
// owner died holding it: repair the data, MarkConsistent, Unlock); an error
// wrapping ErrNotRecoverable, not held; ctx.Err(), not held; or ErrClosed.
func (l *Lock) LockContext(ctx context.Context) error {
	if err := l.h.checkOpen("LockContext"); err != nil {
		return err
	}
	return l.h.fail("LockContext", l.h.m().Lock(ctx))
}

// TryLock locks l if it is free, without waiting, and reports whether it
// did. Like Lock, it takes over (and marks consistent) a dead owner's lock.
// It returns false on a not recoverable or closed lock.
func (l *Lock) TryLock() bool {
	if l.h.closed() {
		return false
	}
	ok, err := l.h.m().TryLock()
	if err == robust.ErrOwnerDead {
		l.h.m().MarkConsistent()
	}
	return ok
}

// unlockSlow is Unlock past its fast path: a lock with waiters (or a
// starving heir) to wake, a closed handle (whose held lock it still
// releases: see Close), or a lock this process does not hold, which panics.
func (l *Lock) unlockSlow() {
	if err := l.unlock("Unlock"); err != nil {
		panic(err.Error())
	}
}

// Release unlocks l, or returns an error wrapping ErrNotOwner and changes
// nothing when this process does not hold l. Releasing a lock taken with
// ErrOwnerDead before MarkConsistent makes it not recoverable. It works
// after Close on a lock this process still holds.
func (l *Lock) Release() error { return l.unlock("Release") }

func (l *Lock) unlock(op string) error {
	if err := l.h.m().Unlock(); err != nil {
		if l.h.closed() {
			return l.h.fail(op, ErrClosed)
		}
		return l.h.unlockError(op, err)
	}
	return nil
}

// MarkConsistent declares the data protected by l repaired after
// LockContext returned ErrOwnerDead. The caller's process must hold l
// (else an error wrapping ErrNotOwner). On a consistent lock it does
// nothing.
func (l *Lock) MarkConsistent() error {
	if err := l.h.checkOpen("MarkConsistent"); err != nil {
		return err
	}
	return l.h.fail("MarkConsistent", l.h.m().MarkConsistent())
}

// State returns a snapshot of l: owner, whether it is alive, since when it
// holds l, how many wait, and consistency.
func (l *Lock) State() LockState { return l.h.state() }

// Reset makes l an unlocked, consistent lock again, whatever state it is in:
// the only way out of NotRecoverable (pthread's destroy and init). It is for
// an administrator who knows no process is using the lock or its data.
func (l *Lock) Reset() error {
	if err := l.h.checkOpen("Reset"); err != nil {
		return err
	}
	l.h.m().Reset()
	return nil
}

// Name returns the name other processes pass to OpenLock. For a Lock that
// belongs to another object (a Value's lock) it is that object's name.
func (l *Lock) Name() string { return l.h.name }

// Close releases this process's handle on l. Other processes that have it
// open keep using it; the creator's Close of a Lock made without a Name
// also removes its name (see Lifetime in the package documentation). Calls
// blocked in LockContext on l return ErrClosed, and Close returns once
// they have. A lock this process holds stays held: Unlock and Release
// still release it (a goroutine in its critical section when another
// closes the handle finishes normally); one never released stays held
// until the process exits, when the next waiter takes it over. Close is
// idempotent; afterwards Lock panics, TryLock returns false, and the other
// methods return ErrClosed.
func (l *Lock) Close() error { return l.h.close() }

// Unlink removes l's name, so no new process can open it; processes that
// have it open keep using it until they close it. A Lock that belongs to
// another object cannot be unlinked by itself.
func (l *Lock) Unlink() error { return l.h.unlink() }
