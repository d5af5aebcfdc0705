package segment

import "io/fs"

// Options are what the options of every object package say about an
// object's file: the one core under shm.Option, sem.Option, barrier.Option,
// value.Option and array.Option. Those packages keep their own public
// option functions (public API must be theirs), each a one-line setter on
// an Options embedded in the package's private options struct, and hand
// the Options to CreateObject, Create or Open.
type Options struct {
	Name              string      // given by Name; "" when none was given
	Persistent        bool        // never tracked; removed only by Unlink or `multiproc rm`
	Mode              fs.FileMode // permission bits of a new file; 0 means 0600
	AllowForeignOwner bool        // Open accepts a file another user owns
}

// SetName records the name given by a package's Name option.
func (o *Options) SetName(n string) { o.Name = n }

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
