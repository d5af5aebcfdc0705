package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/segment"
)

// A JoinableQueue is a Queue that also counts unfinished items: Python's
// JoinableQueue. Every item put is unfinished until some process calls
// TaskDone for it; Join waits until none is.
//
// Beyond Python: a consumer process that dies holding items it took and
// never marked done does not leave Join waiting for ever. Join notices it
// (within the poll interval, sem.SetPollInterval) and returns an error
// wrapping ErrConsumerDied that names the dead pid and how many items it
// held; those items are given up, so the next Join waits only for the
// rest. Items still queued when a consumer dies are not lost: others take
// them.
type JoinableQueue[T any] struct {
	*Queue[T]
}

// NewJoinableQueue creates a joinable queue of items of type T; the
// options are NewQueue's.
func NewJoinableQueue[T any](opts ...QueueOption) (*JoinableQueue[T], error) {
	q, err := createQueue[T](true, opts)
	if err != nil {
		return nil, err
	}
	return &JoinableQueue[T]{q}, nil
}

// OpenJoinableQueue opens the joinable queue called name (OpenQueue opens
// it too, without TaskDone and Join).
func OpenJoinableQueue[T any](name string, opts ...QueueOption) (*JoinableQueue[T], error) {
	q, err := openQueue[T](name, segment.Collect[queueOptions](opts), true)
	if err != nil {
		return nil, err
	}
	return &JoinableQueue[T]{q}, nil
}

// TaskDone marks one item done (Python's task_done), in any process: an
// item taken by Get has been handled. Called more times than items were
// put, it returns ErrTaskDoneTooOften and changes nothing.
func (q *JoinableQueue[T]) TaskDone() error {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return q.closedErr("TaskDone")
	}
	if err := q.q.TaskDone(); err != nil {
		if errors.Is(err, ring.ErrTaskDoneTooOften) {
			return fmt.Errorf("pool: TaskDone on JoinableQueue %s: %w", q.Name(), ErrTaskDoneTooOften)
		}
		return q.opError("TaskDone", err)
	}
	return nil
}

// Join waits until every item put has been marked done (Python's join), or
// ctx ends. See JoinableQueue for a consumer's death.
func (q *JoinableQueue[T]) Join(ctx context.Context) error {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return q.closedErr("Join")
	}
	err := q.q.Join(ctx)
	if errors.Is(err, ring.ErrConsumerDied) {
		return fmt.Errorf("pool: Join on JoinableQueue %s: %w", q.Name(), err)
	}
	return q.opError("Join", err)
}

// Unfinished returns the number of items put and not yet marked done.
func (q *JoinableQueue[T]) Unfinished() int {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return 0
	}
	return q.q.Unfinished()
}
