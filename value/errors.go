package value

import (
	"errors"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// ErrNoLock is returned by Update, UpdateContext and Repair on a value made
// by NewRaw: it has no lock to make them atomic. Load, Store and Add work.
var ErrNoLock = errors.New("value: raw value has no lock")

// ErrOwnerDead is returned by the lock-taking calls (UpdateContext,
// LoadContext, StoreContext, Update) when a process died holding the value's
// lock, and while a value a dying process left half-written is not yet
// repaired. The message says which; see Value.UpdateContext.
var ErrOwnerDead = sem.ErrOwnerDead

// ErrNotRecoverable is returned when the value's lock was made not
// recoverable by someone who took it over through Lock() and released it
// without MarkConsistent.
var ErrNotRecoverable = sem.ErrNotRecoverable

// ErrClosed is returned by the calls with an error result on a closed Value
// (the others panic with a message that says so).
var ErrClosed = sem.ErrClosed

// ErrUnsupportedType is returned by New, NewRaw and Open for a T that cannot
// live in shared memory: one holding pointers (string, slice, map, pointer,
// interface, chan, func). The message names the type.
var ErrUnsupportedType = layout.ErrUnsupportedType

// ErrTypeMismatch is returned by Open[T] when the value holds another type
// than T. The message names both types.
var ErrTypeMismatch = layout.ErrTypeMismatch

// ErrKindMismatch is returned by Open when the name is another kind of
// object (an Array, a Lock, ...). The message names both kinds.
var ErrKindMismatch = layout.ErrKindMismatch

// ErrCorrupt is returned by Open when the file is damaged or is not a
// multiproc object.
var ErrCorrupt = layout.ErrCorrupt

// ErrInvalidName is returned for a name that cannot name an object.
var ErrInvalidName = segment.ErrInvalidName

// ErrPidNamespace is returned by Open functions in a process whose pid
// namespace differs from the object's creator's: the pids in a lock or a
// barrier would name other processes there, so a live owner could look
// dead. Share such objects only within one pid namespace (raw shm segments,
// semaphores and Events work across namespaces).
var ErrPidNamespace = segment.ErrPidNamespace
