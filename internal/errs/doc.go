// Package errs is multiproc's one error vocabulary: every sentinel that
// more than one package can return, defined once, and the one shape of the
// errors the public packages return.
//
// Each public package re-exports the sentinels its functions can return,
// as the same values (as os.ErrClosed is fs.ErrClosed): sem.ErrClosed,
// value.ErrClosed, barrier.ErrClosed and pool.ErrClosed are all ErrClosed,
// so one errors.Is covers every handle. The internal packages that first
// return one (wait, robust, layout, shmfile, segment) re-export it too, so
// their callers need not know this package.
//
// # Messages
//
// A sentinel's text has no package prefix: it is the last part of a
// message, after what went wrong where. An error a public package returns
// carries one prefix, the package the caller called, then the operation
// and the object, then the cause:
//
//	sem: Lock of Lock jobs: object closed
//	value: Update of Value mpgo_value_…: object closed
//	array: New[float64]: length -1 is negative: invalid argument
//	sem: OpenSemaphore jobs: jobs is a Lock, not a Semaphore: object kind mismatch
//
// Op builds it (an *Error), and replaces the prefix and operation of an
// *Error from another public package (value's lock is a sem.RLock: its
// errors reach value's callers as value's). Context errors are returned
// as they are: a cancelled wait returns ctx.Err() itself.
package errs
