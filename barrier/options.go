package barrier

import (
	"io/fs"
	"time"

	"github.com/multiproc/multiproc/internal/segment"
)

// An Option tunes New or Open.
type Option func(*options)

// options are the barrier's own and the file options every object package
// shares.
type options struct {
	segment.Options
	action     func() error
	timeout    time.Duration
	hasTimeout bool
}

// collect applies opts in order; a later option overrides an earlier one.
func collect(opts []Option) options { return segment.Collect(opts) }

// Action gives the function run once per cycle, when the last party
// arrives and before any party is released, in the process of that last
// party (Python's action argument). If it returns an error or panics, the
// barrier breaks: the other parties get ErrBroken, the last party gets
// ErrBroken wrapping the error (a panic is re-raised after the barrier is
// broken). While it runs, the barrier's internal lock is held: it must not
// call the barrier's methods.
//
// Functions do not cross processes: each process passes its own Action to
// New or Open. A cycle completed by a process without one, while some
// process gave one, breaks with ErrNoAction rather than silently skipping
// the action.
func Action(fn func() error) Option { return func(o *options) { o.action = fn } }

// Timeout sets the default time Wait waits for the other parties (Python's
// timeout argument); a Wait whose time runs out breaks the barrier. The
// creator's Timeout is stored in the barrier and is the default for every
// process that opens it; Timeout given to Open overrides it there. A
// context deadline earlier than the timeout wins. d must be positive.
func Timeout(d time.Duration) Option {
	return func(o *options) { o.timeout, o.hasTimeout = d, true }
}

// Name gives New a name (Python's forms: "x" and "/x" are /dev/shm/x)
// instead of a generated one. A named barrier stays until Unlink, where one
// without a name ends with its creator (see Lifetime). An empty name is
// refused (ErrInvalidName). Open ignores it.
func Name(n string) Option { return func(o *options) { o.SetName(n) } }

// Persistent makes New leave the barrier untracked: it outlives its creator
// and the program, and is removed only by Unlink or `multiproc rm`. Open
// ignores it.
func Persistent() Option { return func(o *options) { o.Persistent = true } }

// Mode sets the permission bits of a new barrier's file (default 0600).
// Open ignores it.
func Mode(perm fs.FileMode) Option { return func(o *options) { o.SetMode(perm) } }

// AllowForeignOwner lets Open attach to a barrier owned by another user.
// Without it such a barrier is refused: its owner could change its bytes
// under us at any time. New ignores it.
func AllowForeignOwner() Option { return func(o *options) { o.AllowForeignOwner = true } }
