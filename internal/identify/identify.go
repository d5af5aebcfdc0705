// Package identify says what a file in /dev/shm is, so that an Open of
// the wrong kind can say so: "jobs is a Lock, not a Semaphore", "frames is
// a raw segment, not a Value", instead of "file does not exist" (a
// semaphore's file is sem.NAME, so OpenLock("x") on a semaphore x finds no
// file x) or "corrupt: too short" (a raw segment has no header).
//
// It reads a file without opening it for use: a pread of the header, the
// raw-segment metadata attribute, or a semaphore's sem_t and trailer. Like
// every reader of foreign bytes it never trusts them: a file it cannot
// make sense of is "not known", and the caller's own error stands.
package identify

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/segment"
	"golang.org/x/sys/unix"
)

// What a file is.
type What struct {
	Kind layout.Kind
	// Foreign is a semaphore made outside multiproc (C's sem_open,
	// Python), or a file that carries no multiproc header or metadata
	// (Kind is then KindRaw: what shm.Open sees, Python's SharedMemory, say).
	Foreign bool
}

// String is what the file is, after "is": "a Lock", "a raw segment".
func (w What) String() string {
	switch {
	case w.Foreign && w.Kind == layout.KindRaw:
		return "a raw segment (no multiproc header)"
	case w.Foreign:
		return "a POSIX semaphore made outside multiproc"
	}
	return w.Kind.WithArticle()
}

// File says what Dir/file is; false if there is no such file, or it is a
// damaged multiproc object or something it cannot read.
func File(file string) (What, bool) {
	semFile := strings.HasPrefix(file, "sem.")
	if semFile {
		if info, err := posixsem.Inspect(file); err == nil {
			return What{Kind: info.Kind, Foreign: info.Foreign}, true
		}
	}
	path := segment.Path(file)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return What{}, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return What{}, false
	}
	head := make([]byte, layout.HeaderSize)
	n, err := unix.Pread(fd, head, 0)
	if err != nil || n < 0 {
		return What{}, false
	}
	head = head[:n]
	if h, err := layout.DecodeHead(head, st.Size); err == nil {
		return What{Kind: h.Kind}, true
	}
	if semFile || len(head) >= len(layout.Magic) && [8]byte(head[:8]) == layout.Magic {
		return What{}, false // a damaged semaphore or object: ErrCorrupt says it best
	}
	if m, err := segment.ReadMeta(file); err == nil && m.Kind == "raw" {
		return What{Kind: layout.KindRaw}, true
	}
	return What{Kind: layout.KindRaw, Foreign: true}, true
}

// OpenError improves err, the failure to open name (the name as the caller
// gave it) as an object of kind want from the file file: when the file is
// missing but the name means an object of another kind (a semaphore's
// sem.NAME, or the NAME beside it), or the file is there but is another
// kind than its header would say (a raw segment, a semaphore), the error
// says what it is, wrapping layout.ErrKindMismatch; a file that is no
// multiproc object at all wraps layout.ErrCorrupt too ("corrupt or
// foreign object"). Any other err is returned as it is.
func OpenError(name, file string, want layout.Kind, err error) error {
	var other string
	switch {
	case errors.Is(err, segment.ErrTruncated):
		return err // cut short while we read it: what it was is beside the point
	case errors.Is(err, fs.ErrNotExist):
		other = sibling(file)
	case errors.Is(err, layout.ErrCorrupt):
		other = file
	default:
		return err
	}
	w, ok := File(other)
	if !ok || (w.Kind == want && !w.Foreign) {
		return err
	}
	why := fmt.Errorf("%w: %s is %s, not %s", layout.ErrKindMismatch, name, w, want.WithArticle())
	if w.Foreign && w.Kind == layout.KindRaw {
		why = fmt.Errorf("%w (%w)", why, layout.ErrCorrupt)
	}
	return &fs.PathError{Op: "open", Path: segment.Path(other), Err: why}
}

// sibling is the other file a name can mean: NAME for sem.NAME, sem.NAME
// for NAME.
func sibling(file string) string {
	if rest, ok := strings.CutPrefix(file, "sem."); ok {
		return rest
	}
	return "sem." + file
}

// OpenObject is segment.OpenObject whose failure says what name is when it
// is another kind of object (OpenError).
func OpenObject(name string, k layout.Kind, elem *layout.TypeInfo, opt segment.OpenOptions) (*segment.Object, error) {
	obj, err := segment.OpenObject(name, k, elem, opt)
	if err != nil {
		if file, cerr := segment.CleanName(name, ""); cerr == nil {
			err = OpenError(name, file, k, err)
		}
		return nil, err
	}
	return obj, nil
}
