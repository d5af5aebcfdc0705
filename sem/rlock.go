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
// owner's" is exactly "the caller is the owner". On other architectures
// the holder is wired to its OS thread (runtime.LockOSThread) while it
// holds the lock and the thread id, one gettid call, stands for it. Either
// way, a holder goroutine that exits without unlocking leaves the lock
// held by this process for good, as with any lock it forgets; a later
// goroutine given the same g (or thread id) could then pass for the owner.
//
// # Protocol
//
// The lock itself is the process's robust lock word (see Lock). Beside it,
// each process keeps, per lock record and shared by every handle on it in
// the process (robust.Local):
//
//	owner  the holding goroutine (its g), while this process holds the
//	       lock through an RLock; 0 otherwise. Written only by the holder:
//	       stored right after it takes the lock, cleared right before it
//	       frees it.
//	depth  how many times the owner holds it. Read and written only by
//	       the owner.
//
// Lock tries the word's CAS first: a free lock cannot be the caller's, so
// a won CAS means a new holding (owner := me, depth := 1) and nothing else
// is checked. Only a lost CAS asks whether the caller holds it already
// (owner == me, and the word says this process holds it): then depth+1.
// Unlock checks owner == me, then either lowers depth or clears owner and
// releases the word. A goroutine reads owner == me only if it stored it
// itself and has not cleared it since (its own writes, in program order),
// so a reader racing another goroutine's store or clear can never mistake
// itself for the owner. That is why owner is a plain word outside
// race-detector builds (lock_fast.go): the uncontended pair costs what a
// Lock pair costs, plus two plain stores.
type RLock struct {
	h   lockHandle
	loc *robust.Local
}

// newRLock returns an RLock whose handle init fills in.
func newRLock(init func(*lockHandle)) *RLock {
	r := new(RLock)
	r.init(init)
	return r
}

// init makes r, a zero RLock, the handle that initHandle fills in.
func (r *RLock) init(initHandle func(*lockHandle)) {
	initHandle(&r.h)
	r.loc = r.h.m().Local()
}

// NewRLock creates an RLock. Without the Name option its name is generated.
func NewRLock(opts ...Option) (*RLock, error) {
	obj, err := createLockObject(layout.KindRLock, lockPayload, collect(opts), nil)
	if err != nil {
		return nil, failf("NewRLock", err)
	}
	return newRLock(func(h *lockHandle) { h.initOwn("RLock", obj) }), nil
}

// OpenRLock opens the RLock called name, made by NewRLock in any process.
// A missing name is an error wrapping fs.ErrNotExist; another kind of
// object wraps ErrKindMismatch, naming what it is; a damaged file wraps
// ErrCorrupt.
func OpenRLock(name string, opts ...Option) (*RLock, error) {
	obj, err := openObject(name, layout.KindRLock, lockPayload, collect(opts), nil)
	if err != nil {
		return nil, failf("OpenRLock "+name, err)
	}
	return newRLock(func(h *lockHandle) { h.initOwn("RLock", obj) }), nil
}

// owned reports whether the calling goroutine holds r.
func (r *RLock) owned() bool {
	return r.ownerIs(goroutineID()) && r.h.m().HeldByUs()
}

// Lock locks r, or adds a level if the calling goroutine holds it already.
// A dead owner's lock is taken over and marked consistent (see Lock.Lock).
// Lock panics if r is not recoverable or closed.
func (r *RLock) Lock() {
	if r.h.lockFast() {
		r.took()
		runtime.KeepAlive(r)
		return
	}
	if err := r.acquireSlow("Lock", context.Background()); err != nil {
		if err != robust.ErrOwnerDead {
			panic(r.h.fail("Lock", err).Error())
		}
		r.h.m().MarkConsistent()
	}
}

// LockContext is Lock, waiting at most until ctx ends. It returns nil; an
// error wrapping ErrOwnerDead with the lock held at depth 1 (repair,
// MarkConsistent, Unlock); an error wrapping ErrNotRecoverable, not held;
// ctx.Err(); or ErrClosed.
func (r *RLock) LockContext(ctx context.Context) error {
	if r.h.lockFast() {
		r.took()
		runtime.KeepAlive(r)
		return nil
	}
	return r.h.fail("LockContext", r.acquireSlow("LockContext", ctx))
}

// acquireSlow is Lock past the first CAS: a closed handle, a lock the
// caller holds already (a level more), or a wait. It returns robust's
// errors as they are.
func (r *RLock) acquireSlow(op string, ctx context.Context) error {
	if r.h.closed() {
		return ErrClosed
	}
	if r.owned() {
		r.loc.Depth++
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
	r.loc.Depth = 1
	r.setOwner(goroutineID())
}

// TryLock locks r if it is free or already held by the calling goroutine,
// without waiting, and reports whether it did. Like Lock, it takes over
// (and marks consistent) a dead owner's lock.
func (r *RLock) TryLock() bool {
	if r.h.closed() {
		return false
	}
	if r.owned() {
		r.loc.Depth++
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
// not hold r; Release returns that error instead. Like Lock.Unlock, it
// works after Close on an RLock the goroutine still holds.
func (r *RLock) Unlock() {
	if r.ownerIs(goroutineID()) {
		if r.loc.Depth > 1 {
			r.loc.Depth--
			return
		}
		r.clearOwner()
		if r.h.unlockFast() {
			runtime.KeepAlive(r)
			return
		}
		if err := r.unlockWord("Unlock"); err != nil {
			panic(err.Error())
		}
		return
	}
	if err := r.Release(); err != nil {
		panic(err.Error())
	}
}

// Release is Unlock returning an error wrapping ErrNotOwner, and changing
// nothing, when the calling goroutine does not hold r.
func (r *RLock) Release() error {
	if !r.owned() {
		if r.h.closed() {
			return r.h.fail("Release", ErrClosed)
		}
		return r.h.unlockError("Release", robust.ErrNotOwner)
	}
	if r.loc.Depth > 1 {
		r.loc.Depth--
		return nil
	}
	return r.releaseAll("Release")
}

// releaseAll frees r, held by the caller, whatever its depth.
func (r *RLock) releaseAll(op string) error {
	r.clearOwner()
	return r.unlockWord(op)
}

// clearOwner ends the calling goroutine's holding, before the word is
// released.
func (r *RLock) clearOwner() {
	r.loc.Depth = 0
	r.setOwner(0)
	if pinsThread {
		runtime.UnlockOSThread()
	}
}

// unlockWord releases the lock word once owner is cleared.
func (r *RLock) unlockWord(op string) error {
	return r.h.fail(op, r.h.m().Unlock())
}

// Depth reports how many times the calling goroutine holds r (0 if it does
// not).
func (r *RLock) Depth() int {
	if !r.owned() {
		return 0
	}
	return int(r.loc.Depth)
}

// MarkConsistent declares the data protected by r repaired after
// LockContext returned ErrOwnerDead. The calling goroutine must hold r
// (else an error wrapping ErrNotOwner).
func (r *RLock) MarkConsistent() error {
	if err := r.h.checkOpen("MarkConsistent"); err != nil {
		return err
	}
	if !r.owned() {
		return r.h.fail("MarkConsistent", robust.ErrNotOwner)
	}
	return r.h.fail("MarkConsistent", r.h.m().MarkConsistent())
}

// State returns a snapshot of r (see LockState).
func (r *RLock) State() LockState { return r.h.state() }

// Reset makes r an unlocked, consistent lock again, whatever state it is
// in; see Lock.Reset. It is for an administrator who knows no process uses
// the lock.
func (r *RLock) Reset() error {
	if err := r.h.checkOpen("Reset"); err != nil {
		return err
	}
	if r.owned() {
		r.clearOwner() // the holder resets: end its holding as Unlock would
	} else {
		r.setOwner(0)
	}
	r.h.m().Reset()
	return nil
}

// Name returns the name other processes pass to OpenRLock.
func (r *RLock) Name() string { return r.h.name }

// Close releases this process's handle on r (see Lock.Close).
func (r *RLock) Close() error { return r.h.close() }

// Unlink removes r's name (see Lock.Unlink).
func (r *RLock) Unlink() error { return r.h.unlink() }
