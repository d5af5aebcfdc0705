package sem

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/multiproc/multiproc/internal/identify"
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
// sem_open ("/NAME"; the slash is optional), or the file name that
// `multiproc ls` and ls /dev/shm print ("sem.NAME"): a name starting with
// "sem." means the file sem.sem.NAME if there is one, as sem_open would,
// else the file of that name. A semaphore made outside
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
	return openSemaphore("OpenNamed", name, semAnyNamed, collect(opts))
}

func openSemaphore(op, name string, accept semAccept, o options) (*Semaphore, error) {
	s := new(Semaphore)
	if err := s.open(name, accept, o); err != nil {
		return nil, failf(op+" "+name, err)
	}
	return s, nil
}

// semaphoreFile returns the file a semaphore's name means: "NAME" and
// "/NAME" mean sem.NAME (as for sem_open), and so does "sem.NAME", the
// file's own name, since multiproc never names a semaphore "sem.…" (see
// Name). For OpenNamed, whose names come from sem_open, a "sem.NAME" means
// sem.sem.NAME when that exists.
func semaphoreFile(name string, accept semAccept) (string, error) {
	clean, err := segment.CleanName(name, "sem.")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(clean, "sem.") {
		return "sem." + clean, nil
	}
	if accept == semAnyNamed {
		if _, err := os.Lstat(segment.Path("sem." + clean)); err == nil {
			return "sem." + clean, nil
		}
	}
	return clean, nil
}

// open makes s, a zero Semaphore, a handle on the semaphore name.
func (s *Semaphore) open(name string, accept semAccept, o options) error {
	file, err := semaphoreFile(name, accept)
	if err != nil {
		return err
	}
	f, err := segment.Open(file, segment.OpenOptions{MinSize: posixsem.Size, AllowForeignOwner: o.AllowForeignOwner})
	if err != nil {
		return identify.OpenError(name, file, wantKind(accept), err)
	}
	fail := func(err error) error {
		f.Close()
		return identify.OpenError(name, file, wantKind(accept), &fs.PathError{Op: "open", Path: f.Path(), Err: err})
	}
	var info posixsem.Info
	err = f.Validate(func() error {
		snap, err := posixsem.Snapshot(f.Name, f.Bytes())
		if err == nil {
			info, err = posixsem.Parse(snap)
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	switch {
	case info.Foreign && accept != semAnyNamed:
		return fail(fmt.Errorf("%w: %s is a POSIX semaphore made outside multiproc (by C's sem_open or Python), not a multiproc %s; open it with OpenNamed",
			ErrKindMismatch, name, wantKind(accept)))
	case accept == semBoundedOnly && info.Kind != layout.KindBounded:
		return fail(fmt.Errorf("%w: %s is %s, not %s", ErrKindMismatch, name, info.Kind.WithArticle(), layout.KindBounded.WithArticle()))
	}
	s.init(f, file[len("sem."):], info.Kind, info.Bound)
	return nil
}

func wantKind(a semAccept) layout.Kind {
	if a == semBoundedOnly {
		return layout.KindBounded
	}
	return layout.KindSemaphore
}
