package segment

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/multiproc/multiproc/internal/layout"
	"golang.org/x/sys/unix"
)

// ErrTruncated is returned when an object's file was cut short while this
// process read it: another process with the file's owner's rights
// truncated it under us. It wraps layout.ErrCorrupt.
var ErrTruncated = fmt.Errorf("%w: the file was truncated under us", layout.ErrCorrupt)

// Guard runs read, which reads a mapping of the file named file, and turns
// a fault — a SIGBUS from a page past the end of a file someone truncated
// since it was mapped — into an error wrapping ErrTruncated, instead of a
// dead process. Every read the library makes of a mapped file's bytes to
// validate them (Open's checks, a semaphore's snapshot) runs through it,
// mostly by way of File.Validate. It costs a runtime call; the fast paths
// of handles do not pay it (see the package documentation's caveat on
// truncation).
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

// Validate runs read, which validates bytes of f's mapping, under Guard,
// and then checks that the file still holds every mapped byte. A cut that
// left the pages read in place faults nothing — the bytes past the new end
// of the last page read as zeros — so without the second check a handle
// could be built on zeros a truncation wrote, or the zeros reported as
// damage. Either way the error wraps ErrTruncated; read's own error is
// returned only when the file is whole. A truncation after Validate
// returns is the caveat of handles (see the package documentation).
func (f *File) Validate(read func() error) error {
	err := Guard(f.Name, read)
	if errors.Is(err, ErrTruncated) {
		return err
	}
	var st unix.Stat_t
	if serr := unix.Fstat(f.Fd(), &st); serr != nil {
		return errors.Join(err, fmt.Errorf("%s: fstat: %w", f.Name, serr))
	}
	if st.Size < int64(len(f.data)) {
		return fmt.Errorf("%s: %w (%d bytes now, %d when it was mapped)", f.Name, ErrTruncated, st.Size, len(f.data))
	}
	return err
}
