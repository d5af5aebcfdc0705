package sem

import (
	"fmt"
	"io/fs"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/segment"
)

// What an open accepts.
type semAccept int

const (
	semAnyOurs     semAccept = iota // Semaphore or BoundedSemaphore made by multiproc
	semBoundedOnly                  // BoundedSemaphore made by multiproc
	semAnyNamed                     // also a plain sem_t made by C, Python, ...
)

// OpenNamed opens any named POSIX semaphore: one made by C's
// sem_open("/NAME", O_CREAT, …), by Python (multiprocessing's SemLock files
// "/mp-…", or ctypes), or by this library. name is what was given to
// sem_open ("/NAME"; the slash is optional). A semaphore made outside
// multiproc is a plain unbounded Semaphore to Go; its own program may
// enforce a bound Go cannot see (Python's Lock and BoundedSemaphore check
// their maximum in Python before posting).
//
// The file must be in the format of 64-bit glibc ≥ 2.21; older layouts
// (glibc < 2.21, 32-bit processes) are refused with an error wrapping
// ErrCorrupt, since sharing them would silently break. Like sem_open, the
// semaphore stays usable after its name is unlinked (Python's resource
// tracker unlinks its semaphores when the Python program exits). A
// semaphore owned by another user is refused unless AllowForeignOwner is
// given.
func OpenNamed(name string, opts ...Option) (*Semaphore, error) {
	return openSemaphore(name, semAnyNamed, collect(opts))
}

func openSemaphore(name string, accept semAccept, o options) (*Semaphore, error) {
	clean, err := segment.CleanName(name, "sem.")
	if err != nil {
		return nil, err
	}
	file := "sem." + clean
	f, err := segment.Open(file, segment.OpenOptions{MinSize: posixsem.Size, AllowForeignOwner: o.AllowForeignOwner})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Semaphore, error) {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: f.Path(), Err: err}
	}
	snap, err := posixsem.Snapshot(f.Bytes())
	if err != nil {
		return fail(err)
	}
	info, err := posixsem.Parse(snap)
	if err != nil {
		return fail(err)
	}
	switch {
	case info.Foreign && accept != semAnyNamed:
		return fail(fmt.Errorf("%w: %q is a POSIX semaphore made outside multiproc (by C's sem_open or Python), not a multiproc %s; open it with OpenNamed",
			ErrKindMismatch, name, wantKind(accept)))
	case accept == semBoundedOnly && info.Kind != layout.KindBounded:
		return fail(fmt.Errorf("%w: %q is a %s, not a %s", ErrKindMismatch, name, info.Kind, layout.KindBounded))
	}
	s, err := newSemaphore(f, clean, info.Kind, info.Bound)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func wantKind(a semAccept) layout.Kind {
	if a == semBoundedOnly {
		return layout.KindBounded
	}
	return layout.KindSemaphore
}
