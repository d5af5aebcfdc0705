package array

import "github.com/multiproc/multiproc/sem"

// Lock returns the array's lock, nil for a raw array: Python's get_lock(),
// an RLock (reentrant for the goroutine that holds it), as Python's is by
// default. No method of Array takes it; hold it around the element
// accesses that must be atomic together (see the package doc).
//
// It is the *sem.RLock API: an Unlock in any process happens before the
// next Lock in any process, so everything written to the array before an
// Unlock is seen by the next holder. LockContext reports ErrOwnerDead when
// a process died holding it: the elements it was changing may be half
// updated; repair them and call MarkConsistent before Unlock. Closing the
// Array closes the lock; the lock's own Close and Unlink do nothing to the
// array.
func (a *Array[T]) Lock() *sem.RLock { return a.h.Lock }
