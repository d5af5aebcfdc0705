package pool

import (
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// Queues and pipes.
var (
	// ErrFull is returned by TryPut when the queue has no room now (and by
	// Put when maxsize items are queued and it may not wait).
	ErrFull = ring.ErrFull
	// ErrEmpty is returned by TryGet when the queue holds nothing now.
	ErrEmpty = ring.ErrEmpty
	// ErrShutDown is returned by Put on a queue shut down for everyone
	// (Shutdown, Python 3.13's ShutDown), and by Get once such a queue is
	// drained: the Go form of "no more items". It wraps ErrClosed.
	ErrShutDown = fmt.Errorf("queue shut down: %w", ErrClosed)
	// ErrTooLarge is returned for an item larger than the largest side
	// segment can hold; the message names both sizes.
	ErrTooLarge = errors.New("item too large")
	// ErrTaskDoneTooOften is returned by TaskDone called more times than
	// items were put (Python's ValueError).
	ErrTaskDoneTooOften = ring.ErrTaskDoneTooOften
	// ErrConsumerDied is returned by Join when a consumer process died
	// holding items it took and never marked done.
	ErrConsumerDied = ring.ErrConsumerDied
	// ErrPeerDied is returned by a pipe end whose peer process died with
	// nothing left to receive.
	ErrPeerDied = ring.ErrPeerDied
	// ErrPeerClosed is returned by Send on a pipe end whose other end was
	// closed (Python's BrokenPipeError); Recv returns io.EOF instead.
	ErrPeerClosed = ring.ErrPeerClosed
	// ErrWrongWay is returned by Send on the receiving end of a one-way
	// pipe, and by Recv on its sending end.
	ErrWrongWay = ring.ErrWrongWay
	// ErrEndTaken is returned by a pipe end that another process has
	// opened since (an end belongs to one process at a time).
	ErrEndTaken = ring.ErrEndTaken
)

// Errors shared with the other packages (the same values).
var (
	// ErrClosed is returned by operations on a closed handle.
	ErrClosed = wait.ErrClosed
	// ErrCorrupt is returned when a file is damaged or not a multiproc
	// object, or an item's bytes do not decode.
	ErrCorrupt = layout.ErrCorrupt
	// ErrKindMismatch is returned when an object is opened as another kind.
	ErrKindMismatch = layout.ErrKindMismatch
	// ErrTypeMismatch is returned when a queue or pipe is opened with
	// another item type (or codec) than it was made with; the message
	// names both.
	ErrTypeMismatch = codec.ErrTypeMismatch
	// ErrUnsupportedType is returned for an item type the codec cannot
	// carry (a func, a chan), naming it.
	ErrUnsupportedType = codec.ErrUnsupported
	// ErrInvalidName is returned for a name that cannot name an object.
	ErrInvalidName = segment.ErrInvalidName
	// ErrNoSpace is returned when /dev/shm cannot hold a new object.
	ErrNoSpace = segment.ErrNoSpace
)

// ErrInvalidArgument is returned for impossible arguments (a negative
// capacity, Workers(0)); the message names the value.
var ErrInvalidArgument = errors.New("invalid argument")

// Processes and pools.
var (
	// ErrNoInit is returned by New and Start when pool.Init was not called
	// first in main (and in TestMain): the message says what to add.
	ErrNoInit = errors.New("pool.Init was not called")
	// ErrNotRegistered is returned for a function that workers cannot
	// find: one registered after Init (a closure made at run time), or
	// never registered. The message says how to fix it.
	ErrNotRegistered = errors.New("function not registered")
	// ErrWorkerDied is returned for a task whose worker process died
	// while it held the task (killed, crashed, out of memory, recycled by
	// the memory ceiling); the error is a *WorkerDiedError.
	ErrWorkerDied = errors.New("worker died")
	// ErrTimeout is returned for a task that passed its hard timeout: its
	// worker was killed and replaced.
	ErrTimeout = errors.New("task timed out")
	// ErrPoolClosed is returned by calls on a pool after Close or
	// Terminate. It wraps ErrClosed.
	ErrPoolClosed = fmt.Errorf("pool %w", ErrClosed)
	// ErrNotReady is returned by AsyncResult.Successful before the
	// outcome is in (Python's ValueError).
	ErrNotReady = errors.New("result not ready")
)

// A TaskError is a task's failure as its caller sees it: the error the
// function returned, or its panic with the worker's stack. Errors cross
// processes as their text (and, for this package's sentinels, their
// identity: errors.Is works on them).
type TaskError struct {
	Index   int    // the task's index in its call (0 for Apply and Process)
	PID     int    // the worker process that ran it
	Func    string // the registered function's name
	Message string // the error's text, or the panic value's
	Panic   bool   // the function panicked
	Stack   string // the worker goroutine's stack at the panic
	Err     error  // the sentinel the worker's error wrapped, if one of ours
}

func (e *TaskError) Error() string {
	what := "failed:"
	if e.Panic {
		what = "panicked:"
	}
	return fmt.Sprintf("pool: task %d (%s) in worker pid %d %s %s", e.Index, e.Func, e.PID, what, e.Message)
}

// Unwrap returns the sentinel the task's error wrapped, if it was one of
// this library's.
func (e *TaskError) Unwrap() error { return e.Err }

// A WorkerDiedError says which worker died holding which task, and how.
type WorkerDiedError struct {
	Index  int    // the task's index in its call
	PID    int    // the worker's pid
	Status string // how it ended: "exit status 3", "killed by SIGKILL", ...
	Signal int    // the signal that killed it, 0 if it exited
}

func (e *WorkerDiedError) Error() string {
	return fmt.Sprintf("pool: task %d lost: worker pid %d died (%s)", e.Index, e.PID, e.Status)
}

// Unwrap makes errors.Is(err, ErrWorkerDied) true.
func (e *WorkerDiedError) Unwrap() error { return ErrWorkerDied }
