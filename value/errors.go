package value

import (
	"errors"

	"github.com/multiproc/multiproc/internal/errs"
)

// ErrNoLock is returned by Update, UpdateContext and Repair on a value made
// by NewRaw: it has no lock to make them atomic. Load, Store and Add work.
var ErrNoLock = errors.New("raw value has no lock")

// The errors shared with the other packages: the same values in every
// multiproc package (internal/errs), so value.ErrOwnerDead is
// sem.ErrOwnerDead and one errors.Is covers both.
var (
	// ErrOwnerDead is returned by the lock-taking calls (UpdateContext,
	// LoadContext, StoreContext, Update) when a process died holding the
	// value's lock, and while a value a dying process left half-written is
	// not yet repaired. The message says which; see Value.UpdateContext.
	ErrOwnerDead = errs.ErrOwnerDead

	// ErrNotRecoverable is returned when the value's lock was made not
	// recoverable by someone who took it over through Lock() and released
	// it without MarkConsistent.
	ErrNotRecoverable = errs.ErrNotRecoverable

	// ErrNotOwner is returned by the lock's Release and MarkConsistent
	// when the calling goroutine does not hold it.
	ErrNotOwner = errs.ErrNotOwner

	// ErrClosed is returned by the calls with an error result on a closed
	// Value (the others panic with a message that says so).
	ErrClosed = errs.ErrClosed

	// ErrUnsupportedType is returned by New, NewRaw and Open for a T that
	// cannot live in shared memory: one holding pointers (string, slice,
	// map, pointer, interface, chan, func). The message names the type.
	ErrUnsupportedType = errs.ErrUnsupportedType

	// ErrTypeMismatch is returned by Open[T] when the value holds another
	// type than T. The message names both types.
	ErrTypeMismatch = errs.ErrTypeMismatch

	// ErrKindMismatch is returned by Open when the name is another kind of
	// object (an Array, a Lock, a raw segment, ...). The message names
	// both kinds.
	ErrKindMismatch = errs.ErrKindMismatch

	// ErrCorrupt is returned by Open when the file is damaged or is not a
	// multiproc object.
	ErrCorrupt = errs.ErrCorrupt

	// ErrInvalidName is returned for a name that cannot name an object, or
	// has another kind's form ("sem.…").
	ErrInvalidName = errs.ErrInvalidName

	// ErrInvalidArgument is returned by UnmarshalText into a Value that is
	// open already.
	ErrInvalidArgument = errs.ErrInvalidArgument

	// ErrNoSpace is returned by New and NewRaw when /dev/shm cannot hold
	// the value.
	ErrNoSpace = errs.ErrNoSpace

	// ErrForeignOwner is returned by Open for a value another user owns,
	// unless AllowForeignOwner is given.
	ErrForeignOwner = errs.ErrForeignOwner

	// ErrPidNamespace is returned by Open functions in a process whose pid
	// namespace differs from the object's creator's: the pids in a lock or
	// a barrier would name other processes there, so a live owner could
	// look dead. Share such objects only within one pid namespace (raw shm
	// segments, semaphores and Events work across namespaces).
	ErrPidNamespace = errs.ErrPidNamespace
)

// failf is this package's error for op (internal/errs): "value: op: err".
func failf(op string, err error) error { return errs.Op("value", op, err) }
