package array

import (
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// ErrInvalidArgument is returned by New and NewRaw for a negative or
// impossibly large length; the message gives it.
var ErrInvalidArgument = sem.ErrInvalidArgument

// ErrUnsupportedType is returned by New, NewRaw, FromSlice and Open for an
// element type that cannot live in shared memory: one holding pointers
// (string, slice, map, pointer, interface, chan, func). The message names
// the type.
var ErrUnsupportedType = layout.ErrUnsupportedType

// ErrTypeMismatch is returned by Open[T] when the array holds another
// element type than T. The message names both types.
var ErrTypeMismatch = layout.ErrTypeMismatch

// ErrKindMismatch is returned by Open when the name is another kind of
// object (a Value, a Lock, ...). The message names both kinds.
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
