package segment

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/multiproc/multiproc/internal/layout"
)

// ErrTruncated is returned when an object's file was cut short while this
// process read it: another process with the file's owner's rights
// truncated it under us. It wraps layout.ErrCorrupt.
var ErrTruncated = fmt.Errorf("%w: the file was truncated under us", layout.ErrCorrupt)

// Guard runs read, which reads a mapping of the file named file, and turns
// a fault — a SIGBUS from a page past the end of a file someone truncated
// since it was mapped — into an error wrapping ErrTruncated, instead of a
// dead process. Open paths run their validation of shared bytes through it.
// It costs a runtime call; the fast paths of handles do not pay it (see
// the package documentation's caveat on truncation).
func Guard(file string, read func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); ok && isFault(re) {
				err = fmt.Errorf("%s: %w", file, ErrTruncated)
				return
			}
			panic(r)
		}
	}()
	return read()
}

// isFault reports whether e is the runtime error of a memory fault that
// SetPanicOnFault turned into a panic (it carries the faulting address).
func isFault(e runtime.Error) bool {
	_, ok := e.(interface{ Addr() uintptr })
	return ok
}
