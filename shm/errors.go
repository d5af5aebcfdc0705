package shm

import "github.com/multiproc/multiproc/internal/errs"

// The errors of this package: the same values in every multiproc package
// (internal/errs), so one errors.Is covers a segment and a Lock alike.
var (
	// ErrInvalidName is returned for a name that cannot name a segment:
	// empty after the leading slash, holding another '/', "." or "..", a NUL
	// byte, too long for the file system, or in another kind's naming
	// ("sem.…", the files of POSIX semaphores). The message quotes the name.
	ErrInvalidName = errs.ErrInvalidName

	// ErrInvalidArgument is returned by Create for a size that is not
	// positive; the message gives it.
	ErrInvalidArgument = errs.ErrInvalidArgument

	// ErrForeignOwner is returned by Open for a file owned by another user,
	// unless AllowForeignOwner is given.
	ErrForeignOwner = errs.ErrForeignOwner

	// ErrNoSpace is returned by Create when /dev/shm cannot hold the segment.
	ErrNoSpace = errs.ErrNoSpace

	// ErrCorrupt, ErrKindMismatch and ErrTypeMismatch are the other
	// packages' errors for a file that is not the object asked for. Open
	// never returns them: it maps any file, as Python's SharedMemory does.
	ErrCorrupt      = errs.ErrCorrupt
	ErrKindMismatch = errs.ErrKindMismatch
	ErrTypeMismatch = errs.ErrTypeMismatch

	// ErrClosed is every package's error for a closed handle. No call of a
	// Segment returns it: Close is idempotent, and Bytes after Close is a
	// program error that faults (see Close).
	ErrClosed = errs.ErrClosed
)

// failf is this package's error for op (internal/errs): "shm: op: err".
func failf(op string, err error) error { return errs.Op("shm", op, err) }
