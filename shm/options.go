package shm

import (
	"io/fs"

	"github.com/multiproc/multiproc/internal/segment"
)

// An Option tunes Create or Open.
type Option func(*options)

// options are the file options every object package shares.
type options struct{ segment.Options }

// collect applies opts in order; a later option overrides an earlier one.
func collect(opts []Option) options { return segment.Collect(opts) }

// Persistent makes Create leave the segment untracked: it outlives the
// program and is removed only by Unlink or `multiproc rm` (Python 3.13's
// track=False). Without it, the tracker removes a segment left at the
// program's end (see Lifetime).
func Persistent() Option { return func(o *options) { o.Persistent = true } }

// Mode sets the permission bits of a new segment (default 0600). Only the
// permission bits are used.
func Mode(perm fs.FileMode) Option { return func(o *options) { o.SetMode(perm) } }

// AllowForeignOwner lets Open attach to a segment owned by another user.
// Without it such a segment is refused with ErrForeignOwner: its owner could
// change its contents under us at any time.
func AllowForeignOwner() Option { return func(o *options) { o.AllowForeignOwner = true } }
