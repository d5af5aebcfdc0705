package sem

import (
	"context"
	"runtime"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
)

// An RLock is a reentrant lock shared by processes: Python's
// multiprocessing.RLock. The goroutine that holds it may lock it again;
// it is free once that goroutine has unlocked it as many times. Other
// goroutines of the same process, and other processes, wait. Releasing an
// RLock the calling goroutine does not hold is ErrNotOwner (Unlock panics).
// Its robustness is Lock's: a dead owner's RLock is taken over with
// ErrOwnerDead by LockContext, and marked consistent by Lock and TryLock.
//
// # Which goroutine holds it
//
// Go has no goroutine id, and the one runtime.Stack prints costs 2 µs to
// read. On amd64 and arm64 an RLock records the address of its holder's
// runtime g structure instead, read in one instruction (goid_*.s): a g
// never moves while its goroutine lives, so "the caller's g is the
// owner's" is exactly "the caller is the owner". The check is made only
// when this process holds the lock (a lock held elsewhere, or not at all,
// cannot be ours), so an uncontended pair costs about what a Lock pair
// does. On other architectures the holder is wired to its OS thread
// (runtime.LockOSThread) while it holds the lock and the thread id, one
// gettid call, stands for it. Either way, a holder goroutine that exits
// without unlocking leaves the lock held by this process for good, as with
// any lock it forgets; a later goroutine given the same g (or thread id)
// could then pass for the owner.
//
// The lock itself is the process's robust lock word (see Lock); the owning
// thread and the depth are process-local state shared by every handle on
// the same RLock in the process.
type RLock struct {
	h   lockHandle
	loc *robust.Local
}

// newRLock returns an RLock whose handle init fills in.
func newRLock(init func(*lockHandle)) *RLock {
	r := new(RLock)
	init(&r.h)
	r.loc = r.h.m().Local()
	return r
}

// NewRLock creates an RLock. Without the Name option its name is generated.
func NewRLock(opts ...Option) (*RLock, error) {
	obj, err := createLockObject(layout.KindRLock, lockPayload, collect(opts), nil)
	if err != nil {
		return nil, err
	}
	return newRLock(func(h *lockHandle) { h.initOwn(obj) }), nil
}

// OpenRLock opens the RLock called name, made by NewRLock in any process.
// A missing name is an error wrapping fs.ErrNotExist; another kind of
// object wraps ErrKindMismatch; a damaged file wraps ErrCorrupt.
func OpenRLock(name string, opts ...Option) (*RLock, error) {
	obj, err := openObject(name, layout.KindRLock, lockPayload, collect(opts))
	if err != nil {
		return nil, err
	}
	return newRLock(func(h *lockHandle) { h.initOwn(obj) }), nil
}

// owned reports whether the calling goroutine holds r.
func (r *RLock) owned() bool {
	return r.h.m().HeldByUs() && r.loc.Owner.Load() == goroutineID()
}

// Lock locks r, or adds a level if the calling goroutine holds it already.
// A dead owner's lock is taken over and marked consistent (see Lock.Lock).
// Lock panics if r is not recoverable or closed.
func (r *RLock) Lock() {
	if err := r.acquire(context.Background()); err != nil {
		if err != robust.ErrOwnerDead {
			panic(r.h.errorf("Lock of RLock", err).Error())
		}
		r.h.m().MarkConsistent()
	}
}

// LockContext is Lock, waiting at most until ctx ends. It returns nil; an
// error wrapping ErrOwnerDead with the lock held at depth 1 (repair,
// MarkConsistent, Unlock); an error wrapping ErrNotRecoverable, not held;
// ctx.Err(); or ErrClosed.
func (r *RLock) LockContext(ctx context.Context) error {
	return r.h.lockError("RLock", r.acquire(ctx))
}

func (r *RLock) acquire(ctx context.Context) error {
	if err := r.h.checkOpen("RLock"); err != nil {
		return err
	}
	if r.owned() {
		r.loc.Depth.Add(1)
		return nil
	}
	err := r.h.m().Lock(ctx)
	if err != nil && err != robust.ErrOwnerDead {
		return err
	}
	r.took()
	return err
}

// took records the calling goroutine as the owner, at depth 1.
func (r *RLock) took() {
	if pinsThread {
		runtime.LockOSThread()
	}
	r.loc.Depth.Store(1)
	r.loc.Owner.Store(goroutineID())
}

// TryLock locks r if it is free or already held by the calling goroutine,
// without waiting, and reports whether it did. Like Lock, it takes over
// (and marks consistent) a dead owner's lock.
func (r *RLock) TryLock() bool {
	if r.h.closed() {
		return false
	}
	if r.owned() {
		r.loc.Depth.Add(1)
		return true
	}
	ok, err := r.h.m().TryLock()
	if ok {
		r.took()
		if err == robust.ErrOwnerDead {
			r.h.m().MarkConsistent()
		}
	}
	return ok
}

// Unlock removes one level of the calling goroutine's hold on r and frees
// r at the last. It panics, naming the RLock, if the calling goroutine does
// not hold r; Release returns that error instead.
func (r *RLock) Unlock() {
	if err := r.Release(); err != nil {
		panic(err.Error())
	}
}

// Release is Unlock returning an error wrapping ErrNotOwner, and changing
// nothing, when the calling goroutine does not hold r (ErrClosed after
// Close).
func (r *RLock) Release() error {
	if err := r.h.checkOpen("RLock"); err != nil {
		return err
	}
	if !r.owned() {
		return r.h.unlockError("RLock", robust.ErrNotOwner)
	}
	if r.loc.Depth.Add(-1) > 0 {
		return nil
	}
	return r.releaseAll()
}

// releaseAll frees r, held by the caller, whatever its depth.
func (r *RLock) releaseAll() error {
	r.loc.Depth.Store(0)
	r.loc.Owner.Store(0)
	if pinsThread {
		runtime.UnlockOSThread()
	}
	return r.h.lockError("RLock", r.h.m().Unlock())
}

// Depth reports how many times the calling goroutine holds r (0 if it does
// not).
func (r *RLock) Depth() int {
	if !r.owned() {
		return 0
	}
	return int(r.loc.Depth.Load())
}

// MarkConsistent declares the data protected by r repaired after
// LockContext returned ErrOwnerDead. The calling goroutine must hold r
// (else an error wrapping ErrNotOwner).
func (r *RLock) MarkConsistent() error {
	if err := r.h.checkOpen("RLock"); err != nil {
		return err
	}
	if !r.owned() {
		return r.h.errorf("RLock", robust.ErrNotOwner)
	}
	return r.h.lockError("RLock", r.h.m().MarkConsistent())
}

// State returns a snapshot of r (see LockState).
func (r *RLock) State() LockState { return r.h.state() }

// Reset makes r an unlocked, consistent lock again, whatever state it is
// in; see Lock.Reset. It is for an administrator who knows no process uses
// the lock.
func (r *RLock) Reset() error {
	if err := r.h.checkOpen("RLock"); err != nil {
		return err
	}
	if pinsThread && r.owned() {
		runtime.UnlockOSThread() // the holder resets: unwire it as Unlock would
	}
	r.loc.Owner.Store(0)
	r.loc.Depth.Store(0)
	r.h.m().Reset()
	return nil
}

// Name returns the name other processes pass to OpenRLock.
func (r *RLock) Name() string { return r.h.name }

// Close releases this process's handle on r (see Lock.Close).
func (r *RLock) Close() error { return r.h.close() }

// Unlink removes r's name (see Lock.Unlink).
func (r *RLock) Unlink() error { return r.h.unlink("RLock") }
