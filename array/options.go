package array

import (
	"io/fs"

	"github.com/multiproc/multiproc/internal/segment"
)

// An Option tunes New, NewRaw, FromSlice or Open.
type Option func(*options)

// options are the file options every object package shares.
type options struct{ segment.Options }

// collect applies opts in order; a later option overrides an earlier one.
func collect(opts []Option) options { return segment.Collect(opts) }

// Name gives a new array its name in /dev/shm (Python's forms: "x" and "/x"
// are the same name). Without it New, NewRaw and FromSlice generate a
// unique one ("mpgo_array_…"). A named array stays until Unlink, where one
// without a name ends with its creator (see Lifetime). Open takes the name
// as its argument and ignores this. An empty name is refused
// (ErrInvalidName).
func Name(name string) Option { return func(o *options) { o.SetName(name) } }

// Persistent leaves a new array untracked: it outlives its creator and the
// program, and is removed only by Unlink or `multiproc rm`.
func Persistent() Option { return func(o *options) { o.Persistent = true } }

// Mode sets the permission bits of a new array's file (default 0600).
func Mode(perm fs.FileMode) Option { return func(o *options) { o.SetMode(perm) } }

// AllowForeignOwner lets Open attach to an array whose file another user
// owns. Without it such a value is refused: its owner could change it under
// us at any time.
func AllowForeignOwner() Option { return func(o *options) { o.AllowForeignOwner = true } }
