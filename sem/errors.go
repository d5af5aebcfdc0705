package sem

import (
	"errors"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// ErrOwnerDead is returned by LockContext (and the lock-taking calls of
// RLock and Condition) when the previous owner process died holding the
// lock. The caller now holds the lock; the state it protects may be half
// updated. Repair it and call MarkConsistent before unlocking, or the lock
// becomes not recoverable (pthread's EOWNERDEAD).
var ErrOwnerDead = robust.ErrOwnerDead

// ErrNotRecoverable is returned when a lock whose dead owner's state was
// never repaired is taken: the protected state cannot be trusted any more
// (pthread's ENOTRECOVERABLE).
var ErrNotRecoverable = robust.ErrNotRecoverable

// ErrNotOwner is returned when releasing a lock (or RLock) that the caller
// does not hold.
var ErrNotOwner = robust.ErrNotOwner

// ErrReleasedTooManyTimes is returned when a BoundedSemaphore is released
// past its initial value (Python's ValueError "semaphore or lock released
// too many times"). The semaphore is unchanged.
var ErrReleasedTooManyTimes = errors.New("sem: semaphore released too many times")

// ErrClosed is returned by operations on a closed handle. It is the same
// value in every multiproc package.
var ErrClosed = wait.ErrClosed

// ErrInvalidArgument is returned for impossible arguments, such as a
// negative semaphore value; the message names the value.
var ErrInvalidArgument = errors.New("sem: invalid argument")

// ErrInvalidName is returned for a name that cannot name an object.
var ErrInvalidName = segment.ErrInvalidName

// ErrCorrupt is returned when a file is damaged or not a multiproc object.
var ErrCorrupt = layout.ErrCorrupt

// ErrKindMismatch is returned when an object is opened as another kind,
// such as an Event opened with OpenLock. The message names both kinds.
var ErrKindMismatch = layout.ErrKindMismatch

// ErrPidNamespace is returned by Open functions in a process whose pid
// namespace differs from the object's creator's: the pids in a lock or a
// barrier would name other processes there, so a live owner could look
// dead. Share such objects only within one pid namespace (raw shm segments,
// semaphores and Events work across namespaces).
var ErrPidNamespace = segment.ErrPidNamespace
