package segment

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/track"
)

// Options are what the options of every object package say about an
// object's file: the one core under shm.Option, sem.Option, barrier.Option,
// value.Option and array.Option. Those packages keep their own public
// option functions (public API must be theirs), each a one-line setter on
// an Options embedded in the package's private options struct, and hand
// the Options to CreateObject, Create or Open.
type Options struct {
	Name              string      // given by Name
	Named             bool        // a Name option was given (even an empty one, which is refused)
	Persistent        bool        // never tracked; removed only by Unlink or `multiproc rm`
	Mode              fs.FileMode // permission bits of a new file; 0 means 0600
	AllowForeignOwner bool        // Open accepts a file another user owns
}

// Lifetime says how long an object's name lives (see track.Lifetime).
type Lifetime = track.Lifetime

// The lifetimes, as Options.Lifetime chooses them.
const (
	Persistent        = track.Persistent        // never tracked: until Unlink or `multiproc rm`
	UntilUnlink       = track.UntilUnlink       // given a Name, or a raw segment: until Unlink
	WhileCreatorHolds = track.WhileCreatorHolds // no Name: until its creator's Close or exit
)

// Lifetime is the one rule that gives a new object of kind k its lifetime:
//
//   - Persistent: never tracked.
//   - A Name given, or a raw segment (Python's SharedMemory, which is meant
//     to outlive its creator): UntilUnlink, as in Python the name stays
//     until someone unlinks it, and the tracker removes one forgotten at
//     the program's end with a line saying so.
//   - Otherwise WhileCreatorHolds, as Python's Lock, Value and the rest: the
//     creator's Close or exit removes the name, silently.
func (o Options) Lifetime(k layout.Kind) Lifetime {
	switch {
	case o.Persistent:
		return Persistent
	case o.Named || o.Name != "" || k == layout.KindRaw:
		return UntilUnlink
	}
	return WhileCreatorHolds
}

// FileName returns the file name of a new object: the Name given, checked
// and with prefix put before it ("sem." for semaphores), or a generated
// "mpgo_<short>_…" one. An empty Name is refused with ErrInvalidName
// rather than taken for none: a Name gives an object another lifetime, and
// Name(cfg.Name) with an unset cfg.Name must not silently make an object
// that ends with its creator.
//
// So is a Name in another kind's file naming, which would make the object
// open as something else: "sem.…" for anything (a POSIX semaphore's file
// is sem.NAME, so Open* of semaphores reads "sem.x" as the file of
// semaphore x, and a Lock called sem.x would be taken for one), and the
// tracker's registries' "mpgo_tracker_…".
func (o Options) FileName(short, prefix string) (string, error) {
	if o.Named && o.Name == "" {
		return "", fmt.Errorf("%w \"\": empty; leave the Name option out for a generated name (an object that lives while its creator holds it)", ErrInvalidName)
	}
	if o.Name == "" {
		return prefix + Generate(short), nil
	}
	name, err := CleanName(o.Name, prefix)
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(name, "sem.") && prefix == "sem.":
		return "", fmt.Errorf("%w %q: a semaphore's name does not start with \"sem.\": its file is sem.NAME already (Name(%q) makes /dev/shm/%s)", ErrInvalidName, o.Name, name[len("sem."):], name)
	case strings.HasPrefix(name, "sem."):
		return "", fmt.Errorf("%w %q: names starting with \"sem.\" are POSIX semaphores' files (sem.NAME); an object of another kind named so would open as a semaphore's", ErrInvalidName, o.Name)
	case track.IsRegistry(prefix + name):
		return "", fmt.Errorf("%w %q: names starting with %q are the resource tracker's", ErrInvalidName, o.Name, track.RegistryPrefix)
	}
	return prefix + name, nil
}

// SetName records the name given by a package's Name option.
func (o *Options) SetName(n string) { o.Name, o.Named = n, true }

// SetMode records the permission bits given by a package's Mode option.
func (o *Options) SetMode(perm fs.FileMode) { o.Mode = perm.Perm() }

// Open returns the OpenOptions these options ask for.
func (o Options) Open() OpenOptions { return OpenOptions{AllowForeignOwner: o.AllowForeignOwner} }

// Collect applies opts in order to a zero T and returns it; a later option
// overrides an earlier one, and nil options are skipped.
func Collect[T any, O ~func(*T)](opts []O) T {
	var t T
	for _, opt := range opts {
		if opt != nil {
			opt(&t)
		}
	}
	return t
}
