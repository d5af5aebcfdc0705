package segment

import "github.com/multiproc/multiproc/internal/errs"

// The sentinels of files in /dev/shm, from the one vocabulary
// (internal/errs).
var (
	// ErrInvalidName is returned for a name that cannot name an object in
	// /dev/shm. The message quotes the name and says what is wrong with it.
	ErrInvalidName = errs.ErrInvalidName
	// ErrForeignOwner is returned when opening a file owned by another user
	// without opting in.
	ErrForeignOwner = errs.ErrForeignOwner
	// ErrNoSpace is returned when /dev/shm cannot hold a new object; the
	// message says how much room is left.
	ErrNoSpace = errs.ErrNoSpace
	// ErrPidNamespace is returned when opening a typed object whose state
	// holds process ids (a lock owner, a barrier's waiting parties) from a
	// process in another pid namespace than its creator's: there those pids
	// name other processes, or none, and a live owner could look dead. Raw
	// segments, semaphores and Events have no such state and work across
	// namespaces.
	ErrPidNamespace = errs.ErrPidNamespace
)
