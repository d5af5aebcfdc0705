package value

import (
	"context"
	"errors"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/semlink"
	"github.com/multiproc/multiproc/sem"
)

// objLock is the value's lock: the robust mutex in the record's lock line,
// used directly by this package's calls, and the same record wrapped as a
// *sem.Lock for the caller's own critical sections (Lock). Both are handles
// on one record and share its per-process gate, so a goroutine in Update
// and one holding Lock() exclude each other like any two processes.
type objLock struct {
	m    *robust.Mutex
	pub  *sem.Lock
	file string
}

// initLock prepares a new lock record: all zero is an unlocked lock.
func initLock([]byte) {}

// attachLock attaches to the lock record at payload offset off of obj.
func attachLock(obj *segment.Object, off int) (*objLock, error) {
	return &objLock{
		m:    robust.Attach(obj.File, layout.HeaderSize+off, nil),
		pub:  semlink.WrapLock(obj.File, obj.Header.Kind, layout.HeaderSize+off).(*sem.Lock),
		file: obj.Name,
	}, nil
}

// acquire takes the lock. If its holder had died, it takes it over, marks
// it consistent at once (the value tracks its own damage, see record) and
// reports tookOver.
func (l *objLock) acquire(ctx context.Context) (tookOver bool, err error) {
	if l.m.LockFast() {
		return false, nil
	}
	err = l.m.Lock(ctx)
	if errors.Is(err, robust.ErrOwnerDead) {
		return true, l.m.MarkConsistent()
	}
	return false, err
}

func (l *objLock) release() {
	if !l.m.UnlockFast() {
		l.m.Unlock()
	}
}

func (l *objLock) close() { l.pub.Close() }

// Lock returns the value's lock, nil for a raw value: Python's get_lock().
// Hold it to make several operations on the value — or on the value and
// other data — atomic together; Update, and Load and Store of values over
// 8 bytes, wait for it. Inside such a critical section use Pointer (or,
// for values of at most 8 bytes, Load and Store, which never take the
// lock), not Update or a Load of a larger value: the lock is not
// reentrant.
//
// It is the *sem.Lock API, including LockContext's ErrOwnerDead: after
// taking over a dead holder's lock that way, repair the value through
// Pointer and call MarkConsistent before Unlock, or the lock becomes not
// recoverable and every Update fails with ErrNotRecoverable. Closing the
// Value closes the lock; the lock's own Close and Unlink do nothing to the
// value.
func (v *Value[T]) Lock() *sem.Lock {
	if v.lk == nil {
		return nil
	}
	return v.lk.pub
}
