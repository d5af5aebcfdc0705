package errs

import (
	"context"
	"errors"
)

// Handles.
var (
	// ErrClosed is returned by operations on a closed handle.
	ErrClosed = errors.New("object closed")
	// ErrInvalidArgument is returned for an impossible argument; the
	// message names the value.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Robust locks (pthread's robust mutex states).
var (
	// ErrOwnerDead is returned when the previous owner process died holding
	// a lock (or left its state inconsistent). The caller holds the lock;
	// the data it protects may be half updated.
	ErrOwnerDead = errors.New("previous lock owner died holding the lock")
	// ErrNotRecoverable is returned when a lock is taken whose dead owner's
	// state was never repaired. The caller does not hold the lock.
	ErrNotRecoverable = errors.New("lock not recoverable")
	// ErrNotOwner is returned when unlocking or repairing a lock the caller
	// does not hold.
	ErrNotOwner = errors.New("lock not held by caller")
)

// Files and what they hold.
var (
	// ErrInvalidName is returned for a name that cannot name an object in
	// /dev/shm, or that belongs to another kind's names; the message
	// quotes it and says why.
	ErrInvalidName = errors.New("invalid name")
	// ErrCorrupt is returned when a file that should hold a multiproc
	// object is too short, has the wrong magic, a bad checksum or
	// impossible contents.
	ErrCorrupt = errors.New("corrupt or foreign object")
	// ErrKindMismatch is returned when an object is opened as another kind
	// (a Lock as a Semaphore, a raw segment as a Value). The message names
	// both kinds.
	ErrKindMismatch = errors.New("object kind mismatch")
	// ErrTypeMismatch is returned when a typed object is opened with
	// another element type than its creator's. The message names both.
	ErrTypeMismatch = errors.New("element type mismatch")
	// ErrUnsupportedType is returned for an element type that cannot live
	// in shared memory (it holds pointers, or has no fixed size).
	ErrUnsupportedType = errors.New("type cannot be stored in shared memory")
	// ErrForeignOwner is returned when opening a file another user owns
	// without opting in.
	ErrForeignOwner = errors.New("owned by another user")
	// ErrNoSpace is returned when /dev/shm cannot hold a new object.
	ErrNoSpace = errors.New("not enough space in /dev/shm")
	// ErrPidNamespace is returned when opening an object whose state holds
	// process ids from another pid namespace than its creator's.
	ErrPidNamespace = errors.New("created in another pid namespace")
)

// An Error is a failure as a public package reports it: "pkg: op: cause".
// Op says what the caller called and on what ("Lock of Lock jobs",
// "OpenValue jobs", "New[float64]").
type Error struct {
	Pkg string // the public package the caller called: "sem", "value", ...
	Op  string // the operation and its object
	Err error  // the cause, ending in a sentinel where there is one
}

func (e *Error) Error() string { return e.Pkg + ": " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Op returns err as package pkg's failure of op. It returns nil for nil,
// and a context's own error (context.Canceled, context.DeadlineExceeded)
// as it is: a cancelled call returns ctx.Err(). An *Error of another
// package loses its prefix and operation (the caller called pkg, not that
// package; the cause stays); one of pkg itself is returned unchanged.
func Op(pkg, op string, err error) error {
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	if e, ok := err.(*Error); ok {
		if e.Pkg == pkg {
			return err
		}
		err = e.Err
	}
	return &Error{Pkg: pkg, Op: op, Err: err}
}
