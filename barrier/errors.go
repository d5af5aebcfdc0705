package barrier

import (
	"errors"

	"github.com/multiproc/multiproc/internal/errs"
)

// ErrBroken is returned by Wait when the barrier is broken or breaks while
// the caller waits: a party's timeout or cancelled context, Abort, Reset
// while parties wait, a failed Action, or a party whose process died inside
// Wait (Python's threading.BrokenBarrierError). The barrier stays broken
// until Reset. When there is a cause (context.DeadlineExceeded,
// context.Canceled, the Action's error, ErrClosed, ErrPartyDied), the error
// wraps it too, so errors.Is works for both.
var ErrBroken = errors.New("barrier broken")

// ErrPartyDied is wrapped, with ErrBroken, by the Wait errors of a barrier
// broken because a waiting party's process died (even by SIGKILL), or died
// while holding the barrier's internal lock.
var ErrPartyDied = errors.New("a waiting party's process died")

// ErrNoAction is wrapped, with ErrBroken, by the Wait error of a party that
// completed a cycle in a process that gave no Action, while another process
// of the barrier gave one. Functions do not cross processes: every process
// that waits must pass the same Action to New or Open.
var ErrNoAction = errors.New("cycle completed in a process without the Action")

// The errors shared with the other packages: the same values in every
// multiproc package (internal/errs).
var (
	// ErrClosed is returned by operations on a closed Barrier
	// (sem.ErrClosed is ErrClosed).
	ErrClosed = errs.ErrClosed

	// ErrInvalidArgument is returned for impossible arguments, such as zero
	// or negative parties or a non-positive Timeout; the message names the
	// value.
	ErrInvalidArgument = errs.ErrInvalidArgument

	// ErrInvalidName is returned for a name that cannot name an object.
	ErrInvalidName = errs.ErrInvalidName

	// ErrCorrupt is returned when a file is damaged or not a multiproc
	// object, or holds a barrier whose shared state is impossible.
	ErrCorrupt = errs.ErrCorrupt

	// ErrKindMismatch is returned when Open names another kind of object;
	// the message says what it is.
	ErrKindMismatch = errs.ErrKindMismatch

	// ErrNoSpace is returned by New when /dev/shm cannot hold the barrier.
	ErrNoSpace = errs.ErrNoSpace

	// ErrForeignOwner is returned by Open for a barrier another user owns,
	// unless AllowForeignOwner is given.
	ErrForeignOwner = errs.ErrForeignOwner

	// ErrPidNamespace is returned by Open functions in a process whose pid
	// namespace differs from the object's creator's: the pids in a lock or
	// a barrier would name other processes there, so a live owner could
	// look dead. Share such objects only within one pid namespace (raw shm
	// segments, semaphores and Events work across namespaces).
	ErrPidNamespace = errs.ErrPidNamespace
)

// failf is this package's error for op (internal/errs): "barrier: op: err".
func failf(op string, err error) error { return errs.Op("barrier", op, err) }
