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
//
// TaskDone may be called in any process, as in Python: a consumer may
// hand an item to a helper process that marks it done. The queue counts,
// per consumer process, the items it took and has not marked done; a
// TaskDone lowers the caller's own count, or, when the caller holds none,
// the count of a dead holder, or of the only process holding items. With
// two or more live holders it cannot tell whose item was done (TaskDone
// names none); the done is then charged to the next holder that dies. So:
//
//   - Unfinished never goes negative, and TaskDone fails only when called
//     more times than items were put, whatever Join has given up (a late
//     TaskDone for a given-up item is accepted).
//   - A consumer is never reported holding items someone else marked done,
//     and a consumer killed holding items nobody marked done is reported
//     with them — exactly, unless other processes marked done items of
//     two or more live consumers at once; then a count may be reported
//     short and the rest, never lost, later with another consumer's exit.
//     Join never returns nil while an item a live process holds is
//     unfinished because of this.
//   - A consumer that hands items to a helper and exits before the helper
//     marks them done looks, to Join, like one that died holding them: it
//     is reported. Such a consumer should outlive its helpers' TaskDone
//     (for example by calling Join itself).
//   - Every count is exact after a SIGKILL at any instruction of a Get,
//     TaskDone or Join. TaskDone takes the consumers' lock for a moment.
//   - At most 64 consumer processes are counted at once; the items of
//     others are in Unfinished only, and their deaths are not noticed.
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
// item taken by Get, here or in another process, has been handled (see
// JoinableQueue for how it is counted). Called more times than items were
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

// Unfinished returns the number of items put and not yet marked done or
// given up by Join; never negative.
func (q *JoinableQueue[T]) Unfinished() int {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return 0
	}
	return q.q.Unfinished()
}
