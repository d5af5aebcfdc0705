//go:build linux

package ring

// Joinable accounting (Python's JoinableQueue, across processes, robust to
// the death of any party).
//
//	done         items marked done, ever (mod 2^32): +1 by TaskDone in any
//	             process, refused when it would pass items(tail) (Python's
//	             "task_done() called too many times"). The unfinished are
//	             items(tail) − done: a put's one tail store commits the item
//	             and counts it unfinished together, so no consumer can mark
//	             an item done before it counts (a separate counter, raised
//	             after the tail store, let a fast consumer's TaskDone find
//	             it still zero).
//	slots        per consumer process: its identity and how many items it
//	             took and has not yet marked done itself (outstanding)
//	joinSeq      futex word of Join: +1 when unfinished reaches 0 and when
//	             a dead consumer's items are given up
//
// A journal makes a get's commit and its slot's count one step, as far as
// a reader after a death can tell (the head is the commit; the count moves
// beside it):
//
//   - A get stores jHead := its new head, jSlot := its slot + 1, jPrev :=
//     the slot's outstanding, then outstanding += k, then the head (the
//     commit), then jSlot := 0. A consumer that takes consLock over
//     (settleConsumer) restores outstanding := jPrev if head != jHead: the
//     dead get never committed, so it took nothing.
//
// Join waits until unfinished is 0. Between its bounded sleeps it looks for
// consumer slots whose process is dead with outstanding > 0: those items
// will never be marked done, so it gives them up — done += their count,
// the slot is freed, lostSeq+1 with the pid and count recorded —
// and every Join that was waiting returns an error naming them (Python's
// Join would wait for ever). Items still in the queue when a consumer dies
// are not lost: another consumer takes them.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/wait"
)

// ErrTaskDoneTooOften is returned by TaskDone called more times than items
// were put (Python's ValueError).
var ErrTaskDoneTooOften = errors.New("TaskDone called more times than there were items")

// ErrConsumerDied is returned by Join when a consumer process died holding
// items it had taken and not marked done.
var ErrConsumerDied = errors.New("a consumer died holding unfinished items")

// commitHead stores the new head: the commit of a get (journalled for a
// joinable queue).
func (q *Queue) commitHead(next uint64, k int) {
	if !q.g.Joinable {
		atomic.StoreUint64(&q.c.head, next)
		return
	}
	i, ok := q.ourSlot()
	if !ok {
		// No slot free: the items are counted in unfinished only, and a
		// death of this consumer cannot be told from slowness.
		atomic.StoreUint64(&q.c.head, next)
		return
	}
	s := &q.slot[i]
	atomic.StoreUint64(&q.c.jHead, next)
	atomic.StoreUint32(&q.c.jSlot, uint32(i+1))
	atomic.StoreUint32(&q.c.jPrev, uint32(atomic.LoadUint64(&s.outstanding)))
	atomic.AddUint64(&s.outstanding, uint64(k))
	atomic.StoreUint64(&q.c.head, next)
	atomic.StoreUint32(&q.c.jSlot, 0)
}

// settleConsumer settles the journal of a consumer that died holding
// consLock.
func (q *Queue) settleConsumer() {
	if !q.g.Joinable {
		return
	}
	j := atomic.LoadUint32(&q.c.jSlot)
	if j == 0 || int(j) > len(q.slot) {
		return
	}
	if atomic.LoadUint64(&q.c.head) != atomic.LoadUint64(&q.c.jHead) {
		atomic.StoreUint64(&q.slot[j-1].outstanding, uint64(atomic.LoadUint32(&q.c.jPrev)))
	}
	atomic.StoreUint32(&q.c.jSlot, 0)
}

// ourSlot returns this process's consumer slot, claiming one (with
// consLock held) on first use: the slot we own already, else a free one,
// else one whose dead owner held nothing (a dead owner holding items is
// left for Join to report).
func (q *Queue) ourSlot() (int, bool) {
	free := -1
	for i := range q.slot {
		o := atomic.LoadUint64(&q.slot[i].owner)
		if o == q.me {
			return i, true
		}
		if free < 0 && o == 0 {
			free = i
		}
	}
	if free < 0 {
		for i := range q.slot {
			o := atomic.LoadUint64(&q.slot[i].owner)
			if o != 0 && atomic.LoadUint64(&q.slot[i].outstanding) == 0 && !robust.Alive(o) {
				if atomic.CompareAndSwapUint64(&q.slot[i].owner, o, 0) {
					free = i
					break
				}
			}
		}
	}
	if free >= 0 && atomic.CompareAndSwapUint64(&q.slot[free].owner, 0, q.me) {
		return free, true
	}
	return 0, false
}

// TaskDone marks one item done (Python's task_done), in any process. It
// fails with ErrTaskDoneTooOften, changing nothing, when every item put has
// been marked done already.
func (q *Queue) TaskDone() error {
	defer runtime.KeepAlive(q)
	if !q.g.Joinable {
		return fmt.Errorf("TaskDone on a Queue that is not joinable")
	}
	for {
		d := atomic.LoadUint32(&q.c.done)
		u := int32(pos32(atomic.LoadUint64(&q.c.tail)) - d)
		if u <= 0 {
			return ErrTaskDoneTooOften
		}
		if atomic.CompareAndSwapUint32(&q.c.done, d, d+1) {
			if u == 1 {
				q.wakeJoiners()
			}
			break
		}
	}
	// Our own share of taken items, if we took some.
	for i := range q.slot {
		if atomic.LoadUint64(&q.slot[i].owner) != q.me {
			continue
		}
		for {
			o := atomic.LoadUint64(&q.slot[i].outstanding)
			if o == 0 || atomic.CompareAndSwapUint64(&q.slot[i].outstanding, o, o-1) {
				return nil
			}
		}
	}
	return nil
}

// Unfinished is the number of items put and not yet marked done.
func (q *Queue) Unfinished() int {
	defer runtime.KeepAlive(q)
	return q.unfinished()
}

// unfinished is items(tail) − done.
func (q *Queue) unfinished() int {
	return int(int32(pos32(atomic.LoadUint64(&q.c.tail)) - atomic.LoadUint32(&q.c.done)))
}

func (q *Queue) wakeJoiners() {
	atomic.AddUint32(&q.c.joinSeq, 1)
	if atomic.LoadUint32(&q.c.joinWaiting) != 0 {
		futex.WakeAll(&q.c.joinSeq)
	}
}

// Join waits until every item put has been marked done (Python's join), or
// ctx ends. If a consumer process dies holding items it took and did not
// mark done, Join returns an error wrapping ErrConsumerDied naming its pid
// and the count, and those items are given up, so the next Join waits only
// for the rest.
func (q *Queue) Join(ctx context.Context) error {
	defer runtime.KeepAlive(q)
	if !q.g.Joinable {
		return fmt.Errorf("Join on a Queue that is not joinable")
	}
	lost0 := atomic.LoadUint32(&q.c.lostSeq)
	lostErr := func() error {
		if atomic.LoadUint32(&q.c.lostSeq) == lost0 {
			return nil
		}
		return fmt.Errorf("%w: pid %d died holding %d unfinished items; they were given up",
			ErrConsumerDied, atomic.LoadUint32(&q.c.lostPid), atomic.LoadUint64(&q.c.lostCount))
	}
	done := func() bool { return q.unfinished() <= 0 || atomic.LoadUint32(&q.c.lostSeq) != lost0 }
	held, err := q.joinGate.Enter(ctx, q.life, done)
	if !held {
		if err != nil {
			return err
		}
		return lostErr()
	}
	defer q.joinGate.LeaveChanged()
	atomic.AddUint32(&q.c.joinWaiting, 1)
	defer atomic.AddUint32(&q.c.joinWaiting, ^uint32(0))
	sl := wait.NewSleeper(ctx, &q.c.joinSeq, q, q.life)
	defer sl.Stop()
	for {
		seq := atomic.LoadUint32(&q.c.joinSeq)
		if err := lostErr(); err != nil {
			return err
		}
		if q.unfinished() <= 0 {
			return nil
		}
		slice, err := sl.Sleep(seq)
		if err != nil {
			return err
		}
		if slice {
			q.giveUpDead()
		}
	}
}

// giveUpDead gives up the unfinished items of dead consumers (see the
// protocol). It takes consLock, so that no get of theirs is half done.
func (q *Queue) giveUpDead() {
	for i := range q.slot {
		o := atomic.LoadUint64(&q.slot[i].owner)
		if o == 0 || o == q.me || atomic.LoadUint64(&q.slot[i].outstanding) == 0 || robust.Alive(o) {
			continue
		}
		if q.lockCons(context.Background()) != nil {
			return
		}
		n := atomic.LoadUint64(&q.slot[i].outstanding)
		if atomic.LoadUint64(&q.slot[i].owner) == o && n > 0 {
			atomic.StoreUint64(&q.slot[i].outstanding, 0)
			atomic.AddUint32(&q.c.done, uint32(n))
			atomic.StoreUint32(&q.c.lostPid, uint32(robust.PIDOf(o)))
			atomic.StoreUint64(&q.c.lostCount, n)
			atomic.AddUint32(&q.c.lostSeq, 1)
			atomic.StoreUint64(&q.slot[i].owner, 0)
		}
		q.cons.Unlock()
		q.wakeJoiners()
	}
}
