package segment

import (
	"errors"

	"github.com/multiproc/multiproc/internal/shmfile"
)

// ErrInvalidName is returned for a name that cannot name an object in
// /dev/shm. The message quotes the name and says what is wrong with it.
var ErrInvalidName = shmfile.ErrInvalidName

// ErrForeignOwner is returned when opening a file owned by another user
// without opting in.
var ErrForeignOwner = errors.New("owned by another user")

// ErrNoSpace is returned when /dev/shm cannot hold a new object; the
// message says how much room is left.
var ErrNoSpace = errors.New("not enough space in /dev/shm")

// ErrPidNamespace is returned when opening a typed object whose state
// holds process ids (a lock owner, a barrier's waiting parties) from a
// process in another pid namespace than its creator's: there those pids
// name other processes, or none, and a live owner could look dead. Raw
// segments, semaphores and Events have no such state and work across
// namespaces.
var ErrPidNamespace = errors.New("created in another pid namespace")
