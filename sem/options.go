package sem

import (
	"io/fs"

	"github.com/multiproc/multiproc/internal/segment"
)

// An Option tunes a New* or Open* call of this package. Options that do not
// apply to a call are ignored by it (Persistent and Mode mean nothing to
// Open*, AllowForeignOwner nothing to New*).
type Option func(*options)

// options are the file options every object package shares.
type options struct{ segment.Options }

// collect applies opts in order; a later option overrides an earlier one.
func collect(opts []Option) options { return segment.Collect(opts) }

// Name gives a new object the name n (Python's forms "n" and "/n" are the
// same name, /dev/shm/n) instead of a generated one, so that unrelated
// processes can open it. It changes the object's lifetime: a named object
// stays until Unlink, where one without a name ends with its creator (see
// Lifetime). Creating a name that exists fails with an error wrapping
// fs.ErrExist; an empty name is refused (ErrInvalidName).
func Name(n string) Option { return func(o *options) { o.SetName(n) } }

// Persistent makes a new object untracked: it outlives its creator and the
// program, and is removed only by Unlink or `multiproc rm` (Python 3.13's
// track=False). Without it, an object ends as Lifetime says.
func Persistent() Option { return func(o *options) { o.Persistent = true } }

// Mode sets the permission bits of a new object (default 0600). Only the
// permission bits are used.
func Mode(perm fs.FileMode) Option { return func(o *options) { o.SetMode(perm) } }

// AllowForeignOwner lets Open* attach to an object owned by another user.
// Without it such an object is refused: its owner could change its bytes
// under us at any time.
func AllowForeignOwner() Option { return func(o *options) { o.AllowForeignOwner = true } }
