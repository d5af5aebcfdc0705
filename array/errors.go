package array

import "github.com/multiproc/multiproc/internal/errs"

// The errors of this package: the same values in every multiproc package
// (internal/errs), so array.ErrOwnerDead is sem.ErrOwnerDead and one
// errors.Is covers both.
var (
	// ErrInvalidArgument is returned by New and NewRaw for a negative or
	// impossibly large length; the message gives it.
	ErrInvalidArgument = errs.ErrInvalidArgument

	// ErrUnsupportedType is returned by New, NewRaw, FromSlice and Open for
	// an element type that cannot live in shared memory: one holding
	// pointers (string, slice, map, pointer, interface, chan, func). The
	// message names the type.
	ErrUnsupportedType = errs.ErrUnsupportedType

	// ErrTypeMismatch is returned by Open[T] when the array holds another
	// element type than T. The message names both types.
	ErrTypeMismatch = errs.ErrTypeMismatch

	// ErrKindMismatch is returned by Open when the name is another kind of
	// object (a Value, a Lock, a raw segment, ...). The message names both
	// kinds.
	ErrKindMismatch = errs.ErrKindMismatch

	// ErrCorrupt is returned by Open when the file is damaged or is not a
	// multiproc object.
	ErrCorrupt = errs.ErrCorrupt

	// ErrInvalidName is returned for a name that cannot name an object, or
	// has another kind's form ("sem.…").
	ErrInvalidName = errs.ErrInvalidName

	// ErrNoSpace is returned by New, NewRaw and FromSlice when /dev/shm
	// cannot hold the array.
	ErrNoSpace = errs.ErrNoSpace

	// ErrForeignOwner is returned by Open for an array another user owns,
	// unless AllowForeignOwner is given.
	ErrForeignOwner = errs.ErrForeignOwner

	// ErrPidNamespace is returned by Open functions in a process whose pid
	// namespace differs from the object's creator's: the pids in a lock or
	// a barrier would name other processes there, so a live owner could
	// look dead. Share such objects only within one pid namespace (raw shm
	// segments, semaphores and Events work across namespaces).
	ErrPidNamespace = errs.ErrPidNamespace

	// ErrClosed is returned by the lock's calls after the Array is closed
	// (element accesses panic, saying so).
	ErrClosed = errs.ErrClosed

	// ErrOwnerDead is returned by the lock's LockContext when a process
	// died holding it: the elements it was changing may be half updated
	// (see Lock).
	ErrOwnerDead = errs.ErrOwnerDead

	// ErrNotRecoverable is returned by the lock's calls once a lock taken
	// with ErrOwnerDead was released without MarkConsistent.
	ErrNotRecoverable = errs.ErrNotRecoverable

	// ErrNotOwner is returned by the lock's Release when the calling
	// goroutine does not hold it.
	ErrNotOwner = errs.ErrNotOwner
)

// failf is this package's error for op (internal/errs): "array: op: err".
func failf(op string, err error) error { return errs.Op("array", op, err) }
