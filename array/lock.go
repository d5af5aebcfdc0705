package array

import (
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/semlink"
	"github.com/multiproc/multiproc/sem"
)

// initLock prepares a new lock record: all zero is an unlocked lock.
func initLock([]byte) {}

// attachLock wraps the lock record at payload offset off of obj as a
// *sem.Lock.
func attachLock(obj *segment.Object, off int) (*sem.Lock, error) {
	return semlink.WrapLock(obj.File, obj.Header.Kind, layout.HeaderSize+off).(*sem.Lock), nil
}

// Lock returns the array's lock, nil for a raw array: Python's
// get_lock(). No method of Array takes it; hold it around the element
// accesses that must be atomic together (see the package doc).
//
// It is the *sem.Lock API: an Unlock in any process happens before the
// next Lock in any process, so everything written to the array before an
// Unlock is seen by the next holder. LockContext reports ErrOwnerDead when
// a process died holding it: the elements it was changing may be half
// updated; repair them and call MarkConsistent before Unlock. Closing the
// Array closes the lock; the lock's own Close and Unlink do nothing to the
// array.
func (a *Array[T]) Lock() *sem.Lock { return a.lk }
