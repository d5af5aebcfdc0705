package sem

import (
	"errors"

	"github.com/multiproc/multiproc/internal/errs"
)

// The errors of this package. The shared ones are the same values in every
// multiproc package (internal/errs): value.ErrOwnerDead is ErrOwnerDead,
// barrier.ErrClosed is ErrClosed, and so on.
var (
	// ErrOwnerDead is returned by LockContext (and the lock-taking calls of
	// RLock and Condition) when the previous owner process died holding the
	// lock. The caller now holds the lock; the state it protects may be half
	// updated. Repair it and call MarkConsistent before unlocking, or the
	// lock becomes not recoverable (pthread's EOWNERDEAD).
	ErrOwnerDead = errs.ErrOwnerDead

	// ErrNotRecoverable is returned when a lock whose dead owner's state
	// was never repaired is taken: the protected state cannot be trusted
	// any more (pthread's ENOTRECOVERABLE).
	ErrNotRecoverable = errs.ErrNotRecoverable

	// ErrNotOwner is returned when releasing a lock (or RLock) that the
	// caller does not hold, and by Condition.Wait without the lock.
	ErrNotOwner = errs.ErrNotOwner

	// ErrClosed is returned by operations on a closed handle.
	ErrClosed = errs.ErrClosed

	// ErrInvalidArgument is returned for impossible arguments, such as a
	// negative semaphore value; the message names the value.
	ErrInvalidArgument = errs.ErrInvalidArgument

	// ErrInvalidName is returned for a name that cannot name an object, or
	// that has another kind's form (a Lock called "sem.x", which is how
	// semaphores' files are named).
	ErrInvalidName = errs.ErrInvalidName

	// ErrCorrupt is returned when a file is damaged or not a multiproc
	// object.
	ErrCorrupt = errs.ErrCorrupt

	// ErrKindMismatch is returned when an object is opened as another kind,
	// such as an Event opened with OpenLock or a Lock with OpenSemaphore.
	// The message names both kinds.
	ErrKindMismatch = errs.ErrKindMismatch

	// ErrNoSpace is returned by the New functions when /dev/shm cannot hold
	// the object; the message says how much room is left.
	ErrNoSpace = errs.ErrNoSpace

	// ErrForeignOwner is returned by the Open functions for an object
	// another user owns, unless AllowForeignOwner is given.
	ErrForeignOwner = errs.ErrForeignOwner

	// ErrPidNamespace is returned by Open functions in a process whose pid
	// namespace differs from the object's creator's: the pids in a lock or
	// a barrier would name other processes there, so a live owner could
	// look dead. Share such objects only within one pid namespace (raw shm
	// segments, semaphores and Events work across namespaces).
	ErrPidNamespace = errs.ErrPidNamespace
)

// ErrReleasedTooManyTimes is returned when a BoundedSemaphore is released
// past its initial value (Python's ValueError "semaphore or lock released
// too many times"). The semaphore is unchanged.
var ErrReleasedTooManyTimes = errors.New("semaphore released too many times")

// failf is this package's error for op (internal/errs): "sem: op: err".
func failf(op string, err error) error { return errs.Op("sem", op, err) }
