package value

import (
	"context"
	"errors"

	"github.com/multiproc/multiproc/sem"
)

// Lock returns the value's lock, nil for a raw value: Python's get_lock(),
// which returns an RLock by default, and so does this. Hold it to make
// several operations on the value — or on the value and other data —
// atomic together. Update, and Load and Store of values over 8 bytes, take
// it too; the goroutine that holds it may call them (they take it again,
// one level deeper), so the Python form ports as it reads:
//
//	l := v.Lock()            // with v.get_lock():
//	l.Lock()
//	v.Store(v.Load() + 1)    //     v.value += 1
//	l.Unlock()
//
// Other goroutines, of this process or any other, wait for it.
//
// It is the *sem.RLock API, including LockContext's ErrOwnerDead: after
// taking over a dead holder's lock that way, repair the value through
// Pointer and call MarkConsistent before Unlock, or the lock becomes not
// recoverable and every Update fails with ErrNotRecoverable. Closing the
// Value closes the lock; the lock's own Close and Unlink do nothing to the
// value.
func (v *Value[T]) Lock() *sem.RLock { return v.lk }

// acquire takes the value's lock for one of this package's calls (a level
// deeper if the calling goroutine holds it already). If its holder had
// died, it takes it over, marks it consistent at once (the value tracks
// its own damage, see record) and reports tookOver. Errors are the lock's,
// for the caller to name.
func (v *Value[T]) acquire(ctx context.Context) (tookOver bool, err error) {
	err = v.lk.LockContext(ctx)
	if err != nil && errors.Is(err, ErrOwnerDead) {
		return true, v.lk.MarkConsistent()
	}
	return false, err
}
