package value

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// How the value is read and written.
//
// A T of at most 8 bytes is one atomic word (word.go): Load and Store are a
// single atomic load or store and never take the lock, on raw and locked
// values alike. Update takes the lock, so Updates (and the critical sections
// of anyone holding Lock()) exclude each other, computes fn on a copy, and
// commits it with a compare-and-swap; if an Add or Store changed the word
// meanwhile, it runs fn again on the new value. A dying process can never
// leave such a value half-written.
//
// A larger T cannot be copied atomically. On a locked value Load, Store and
// Update all take the lock (as Python's .value does); it is reentrant, so
// the goroutine holding Lock() may call them. Update runs fn on a
// copy and writes the copy back only when fn returns, bracketed by the
// record's writing mark (layout.go): a process killed inside fn loses its
// update as a whole and leaves the value intact; only one killed during the
// few instructions of the copy back leaves it damaged, and the mark tells
// the next holder so. On a raw value, Load and Store are plain copies.
//
// Guarantees, in memory-model terms across processes: all atomic word
// operations on one value (Load, Store, Add, the commit of Update) are
// sequentially consistent, in every process. A lock release in any process
// happens before the next acquisition in any process, so a Load or Update
// under the lock sees every Update or Store that completed before it, whole.

// Load returns the value. On a value over 8 bytes with a lock it takes the
// lock (silently taking it over from a dead holder) and may block; use
// LoadContext to bound the wait or to learn that the value is damaged. It
// panics if the lock is not recoverable (see Lock) or v is closed.
func (v *Value[T]) Load() T {
	p := v.dataPtr("Load")
	if v.word {
		x, _ := loadWord[T](p)
		return x
	}
	if v.lk == nil {
		return *(*T)(p)
	}
	x, err := v.loadLocked(context.Background())
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		panic(v.fail("Load", err).Error())
	}
	return x
}

// LoadContext is Load with a context bounding the wait for the lock. It
// returns ctx.Err() if the wait is cut short, and the value with an error
// wrapping ErrOwnerDead if a process died holding the lock (this call took
// it over) or the value is damaged (see UpdateContext).
func (v *Value[T]) LoadContext(ctx context.Context) (T, error) {
	var zero T
	if v.h.Closed() {
		return zero, v.fail("LoadContext", ErrClosed)
	}
	if v.word || v.lk == nil {
		return v.Load(), nil
	}
	x, err := v.loadLocked(ctx)
	return x, v.fail("LoadContext", err)
}

func (v *Value[T]) loadLocked(ctx context.Context) (T, error) {
	var zero T
	tookOver, err := v.acquire(ctx)
	if err != nil {
		return zero, err
	}
	x := *(*T)(v.data)
	err = v.check(tookOver)
	v.lk.Unlock()
	return x, err
}

// Store sets the value to x. On a value over 8 bytes with a lock it takes
// the lock (silently taking it over from a dead holder) and may block; a
// Store writes a whole value, so it also repairs a damaged one. It panics
// if the lock is not recoverable (see Lock) or v is closed.
func (v *Value[T]) Store(x T) {
	p := v.dataPtr("Store")
	if v.word {
		storeWord(p, x)
		return
	}
	if v.lk == nil {
		*(*T)(p) = x
		return
	}
	if err := v.storeLocked(context.Background(), x, true); err != nil {
		panic(v.fail("Store", err).Error())
	}
}

// StoreContext is Store with a context bounding the wait for the lock. It
// returns ctx.Err() if the wait is cut short, and an error wrapping
// ErrOwnerDead, without storing, if it took the lock over from a process
// that died holding it.
func (v *Value[T]) StoreContext(ctx context.Context, x T) error {
	if v.h.Closed() {
		return v.fail("StoreContext", ErrClosed)
	}
	if v.word || v.lk == nil {
		v.Store(x)
		return nil
	}
	return v.fail("StoreContext", v.storeLocked(ctx, x, false))
}

func (v *Value[T]) storeLocked(ctx context.Context, x T, anyway bool) error {
	tookOver, err := v.acquire(ctx)
	if err != nil {
		return err
	}
	defer v.lk.Unlock()
	if tookOver && !anyway {
		return v.check(true)
	}
	v.write(x)
	return nil
}

// Update runs fn on the value under the value's lock:
// UpdateContext(context.Background(), fn).
func (v *Value[T]) Update(fn func(*T)) error {
	return v.update("Update", context.Background(), fn)
}

// UpdateContext takes the value's lock, waiting no longer than ctx allows,
// calls fn with a pointer to a copy of the value, stores what fn leaves
// there, and releases the lock: an atomic read-modify-write against every
// other Update, and against anyone holding Lock(), in any process. The
// goroutine holding Lock() may call it (the lock is reentrant), and so may
// fn. For a value of at most 8 bytes fn may run more than once, if an Add
// or Store (which do not take the lock) changed the value before the
// commit, so fn should only compute the new value from the old. If fn
// panics, the value is unchanged and the lock released.
//
// If it returns an error, fn did not run and the value is unchanged:
//   - ctx.Err() if the wait was cut short;
//   - ErrNoLock on a raw value; ErrClosed after Close;
//   - an error wrapping ErrOwnerDead if a process died holding the lock.
//     This call took the lock over and released it again; the dead
//     process's Update was lost as a whole and the value is intact (unless
//     the dead process held Lock() and was writing through Pointer: only
//     that code knows what it left). Retry, or account for the lost update.
//   - an error wrapping ErrOwnerDead that says the value is half-written,
//     if the dead process was killed while copying its update in (values
//     over 8 bytes, a window of a few instructions). Every Update and
//     LoadContext then reports it until Store or Repair rewrites the value.
//
// Python deadlocks when a process dies holding a Value's lock; pthread's
// robust mutexes hand the next locker EOWNERDEAD and make the lock unusable
// forever if it is released unrepaired. Here the lock is always usable
// again and only a value that is really damaged needs repair.
func (v *Value[T]) UpdateContext(ctx context.Context, fn func(*T)) error {
	return v.update("UpdateContext", ctx, fn)
}

func (v *Value[T]) update(op string, ctx context.Context, fn func(*T)) error {
	if v.lk == nil {
		return v.refuse(op)
	}
	if err := v.lk.LockContext(ctx); err != nil {
		return v.updateNotLocked(op, err)
	}
	defer v.lk.Unlock()
	x := v.take()
	defer v.give(x)
	if v.word {
		for {
			var old uint64
			*x, old = loadWord[T](v.data)
			fn(x)
			if casWord(v.data, old, *x) {
				return nil
			}
		}
	}
	if err := v.check(false); err != nil {
		return v.fail(op, err)
	}
	*x = *(*T)(v.data)
	fn(x)
	v.write(*x)
	return nil
}

// take returns the T an Update computes on: the handle's scratch, or a
// new one when an Update further up this goroutine (fn calling Update, the
// lock being reentrant) has it. The lock is held, so no other goroutine
// touches scratch or busy meanwhile.
func (v *Value[T]) take() *T {
	if v.busy {
		return new(T)
	}
	v.busy = true
	return v.scratch
}

// give hands x back after the Update that took it.
func (v *Value[T]) give(x *T) {
	if x == v.scratch {
		v.busy = false
	}
}

// refuse is the error of an Update on a raw or closed value. (Update's own
// path needs no closed check: Close closes the lock, whose LockContext then
// fails with ErrClosed.)
func (v *Value[T]) refuse(op string) error {
	if v.lk == nil {
		return v.fail(op, fmt.Errorf("%w (made by NewRaw)", ErrNoLock))
	}
	return v.fail(op, ErrClosed)
}

// updateNotLocked is the error of an Update whose LockContext failed: if
// it took the lock over from a dead holder, it marks it consistent and
// reports the takeover (or the damage it left), else the lock's error.
func (v *Value[T]) updateNotLocked(op string, err error) error {
	if !errors.Is(err, ErrOwnerDead) {
		return v.fail(op, err)
	}
	defer v.lk.Unlock()
	if err := v.lk.MarkConsistent(); err != nil {
		return v.fail(op, err)
	}
	return v.fail(op, v.check(true))
}

// Repair takes the lock and, if a process died while writing the value so
// that it may be half-written, calls fix with a pointer to a copy of what
// is there, writes the result back and clears the damage. On an intact
// value it does nothing. It reports whether fix ran.
func (v *Value[T]) Repair(ctx context.Context, fix func(*T)) (bool, error) {
	if v.lk == nil || v.h.Closed() {
		return false, v.refuse("Repair")
	}
	if _, err := v.acquire(ctx); err != nil {
		return false, v.fail("Repair", err)
	}
	defer v.lk.Unlock()
	if atomic.LoadUint32(&v.rec.writing) == recordIntact {
		return false, nil
	}
	x := *(*T)(v.data)
	fix(&x)
	v.write(x)
	return true, nil
}

// check, run with the lock held, reports a damaged value or a takeover.
func (v *Value[T]) check(tookOver bool) error {
	if atomic.LoadUint32(&v.rec.writing) != recordIntact {
		return fmt.Errorf("a process died while writing it, so it may be half-written; Store or Repair it: %w", ErrOwnerDead)
	}
	if tookOver {
		return fmt.Errorf("a process died holding its lock; an Update it was making is lost whole, the value is as the last complete one left it: %w", ErrOwnerDead)
	}
	return nil
}

// testHookMidWrite, when set by a test, runs in the middle of write, after
// half of the bytes are copied: the place to kill a process to leave a
// damaged value behind.
var testHookMidWrite func()

// write copies x into the shared value of over 8 bytes, with the lock held,
// bracketed by the writing mark. It leaves the value intact, so it also
// repairs a damaged one.
func (v *Value[T]) write(x T) {
	atomic.StoreUint32(&v.rec.writing, recordWriting)
	if testHookMidWrite != nil {
		n := unsafe.Sizeof(x)
		copy(unsafe.Slice((*byte)(v.data), n/2), unsafe.Slice((*byte)(unsafe.Pointer(&x)), n/2))
		testHookMidWrite()
	}
	*(*T)(v.data) = x
	atomic.StoreUint32(&v.rec.writing, recordIntact)
}
