package pool

import (
	"fmt"
	"time"

	"github.com/multiproc/multiproc/pool/internal/remote"
)

// An Option tunes New.
type Option func(*poolOptions)

type poolOptions struct {
	workers     int
	hasWorkers  bool
	init        *initCall
	maxTasks    int
	memLimit    int64
	soft, hard  time.Duration
	onDeath     deathPolicy
	retries     int
	startupWait time.Duration
	remote      remote.Transport // workers elsewhere (pool/cluster), or nil
}

// initCall is an Initializer: a registered function's name and its
// encoded argument.
type initCall struct {
	fn   string
	recv []byte
	arg  []byte
	err  error // why it cannot be used (reported by New)
}

// Initializer makes every worker run f(arg) once, before its first task
// (Python's initializer and initargs): to open what its tasks share, or
// set package-level state they read. Its result is dropped; if it fails,
// New fails with its error (and a replacement worker's failure stops the
// pool), rather than starting workers for ever as Python's Pool does.
func Initializer[In, Out any](f *Func[In, Out], arg In) Option {
	ic := &initCall{}
	if err := f.check("pool: Initializer"); err != nil {
		ic.err = err
	} else {
		ic.fn = f.name
		if ic.recv, ic.err = f.appendRecv(nil); ic.err == nil {
			ic.arg, ic.err = f.appendArg(nil, &arg)
		}
	}
	return func(o *poolOptions) { o.init = ic }
}

type deathPolicy int

const (
	deathFail  deathPolicy = iota // the tasks a dead worker held fail (default)
	deathRetry                    // they run again elsewhere, up to retries times
	deathStop                     // the pool stops: every call fails
)

// Workers sets the number of worker processes (default: CPUCount(), the
// CPUs this process may use). It must be at least 1.
func Workers(n int) Option { return func(o *poolOptions) { o.workers, o.hasWorkers = n, true } }

// MaxTasksPerChild makes a worker exit, and a fresh one replace it, after
// it has run n tasks (Python's maxtasksperchild, where a chunk of a Map
// counts as one task). 0, the default, keeps workers for the pool's life.
func MaxTasksPerChild(n int) Option { return func(o *poolOptions) { o.maxTasks = n } }

// MemoryLimit makes a worker whose resident memory has passed bytes exit
// after the chunk in hand (billiard's max_memory_per_child), a fresh one
// replacing it. 0, the default, sets no limit.
func MemoryLimit(bytes int64) Option { return func(o *poolOptions) { o.memLimit = bytes } }

// TaskTimeout sets the soft timeout of every task: its ctx ends after d,
// and a function that watches its ctx returns; one that does not runs on
// (see HardTimeout). 0, the default, sets none.
func TaskTimeout(d time.Duration) Option { return func(o *poolOptions) { o.soft = d } }

// HardTimeout sets the hard timeout of every task: once a task has run
// for d, its worker is killed and replaced and the task fails with
// ErrTimeout; the tasks queued behind it run elsewhere. 0, the default,
// sets none.
func HardTimeout(d time.Duration) Option { return func(o *poolOptions) { o.hard = d } }

// RetryOnWorkerDeath makes the tasks a dying worker had started run again
// on another worker, up to n times each, instead of failing with
// ErrWorkerDied. Tasks it had not started always run elsewhere.
func RetryOnWorkerDeath(n int) Option {
	return func(o *poolOptions) { o.onDeath, o.retries = deathRetry, n }
}

// StopOnWorkerDeath makes the death of any worker stop the pool
// (ProcessPoolExecutor's BrokenProcessPool): every call in progress, and
// every later one, fails with ErrWorkerDied.
func StopOnWorkerDeath() Option { return func(o *poolOptions) { o.onDeath = deathStop } }

func (o *poolOptions) check() error {
	switch {
	case o.hasWorkers && o.workers < 1:
		return fmt.Errorf("pool: New: %w: Workers(%d): a pool needs at least 1 worker", ErrInvalidArgument, o.workers)
	case o.maxTasks < 0:
		return fmt.Errorf("pool: New: %w: MaxTasksPerChild(%d): must not be negative", ErrInvalidArgument, o.maxTasks)
	case o.memLimit < 0:
		return fmt.Errorf("pool: New: %w: MemoryLimit(%d): must not be negative", ErrInvalidArgument, o.memLimit)
	case o.soft < 0 || o.hard < 0:
		return fmt.Errorf("pool: New: %w: timeouts must not be negative", ErrInvalidArgument)
	case o.onDeath == deathRetry && o.retries < 1:
		return fmt.Errorf("pool: New: %w: RetryOnWorkerDeath(%d): want at least 1", ErrInvalidArgument, o.retries)
	case o.init != nil && o.init.err != nil:
		return fmt.Errorf("pool: New: %w", o.init.err)
	}
	return o.checkRemote()
}

// A CallOption tunes one Map, Imap or ImapUnordered call.
type CallOption func(*callOptions)

type callOptions struct {
	chunksize int
	progress  func(Progress)
}

// Chunksize sends the items to workers n at a time (Python's chunksize).
// Without it, Map uses Python's formula: len(items) / (4 × workers),
// rounded up; Imap and ImapUnordered use 1, as Python does.
func Chunksize(n int) CallOption { return func(o *callOptions) { o.chunksize = n } }

// WithProgress calls report as the call's tasks finish (at most every 50
// ms, and once at the end), from the caller's goroutine: the figures a
// progress bar needs. Results come back in batches — at least every 2 ms
// while a chunk runs, and at its end — so the figures move by the tasks
// those hold; a Map of slow tasks over few large chunks moves in steps
// (a smaller Chunksize smooths them).
func WithProgress(report func(Progress)) CallOption {
	return func(o *callOptions) { o.progress = report }
}

// Progress is a call's progress.
type Progress struct {
	Done    int           // tasks finished, failed ones included
	Failed  int           // of which failed
	Total   int           // tasks in the call; -1 while an Imap's input is not exhausted
	Elapsed time.Duration // since the call began
}
