package shm

import "io/fs"

// An Option tunes Create or Open.
type Option func(*options)

type options struct {
	persistent   bool
	mode         fs.FileMode
	allowForeign bool
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Persistent makes Create leave the segment untracked: it outlives the
// program and is removed only by Unlink or `multiproc rm` (Python 3.13's
// track=False).
func Persistent() Option { return func(o *options) { o.persistent = true } }

// Mode sets the permission bits of a new segment (default 0600). Only the
// permission bits are used.
func Mode(perm fs.FileMode) Option { return func(o *options) { o.mode = perm.Perm() } }

// AllowForeignOwner lets Open attach to a segment owned by another user.
// Without it such a segment is refused with ErrForeignOwner: its owner could
// change its contents under us at any time.
func AllowForeignOwner() Option { return func(o *options) { o.allowForeign = true } }
