//go:build linux

package ring

// Joinable accounting (Python's JoinableQueue, across processes, robust to
// the death of any party).
//
// The counts:
//
//	P  items put, ever: items(tail). A put's one tail store commits the item
//	   and counts it unfinished together, so no consumer can mark an item
//	   done before it counts.
//	T  items taken, ever: items(head).
//	D  TaskDone calls that succeeded, ever (the done word's low half).
//	G  items given up by Join, net (the done word's high half): the items of
//	   dead consumers that will never be marked done.
//	held[i]  per consumer slot: items the slot's process took and has not
//	   marked done itself.
//
// All of them are counted mod 2^32 and compared as int32 differences.
// Unfinished is P − D − G. D and G share one 64-bit word (the done word) so
// that a reader without the lock (Unfinished, Join's wait) reads the two at
// one instant.
//
// Invariants, between any two steps of any process (a step is one atomic
// store or CAS; a journalled group counts as one, see below):
//
//	(I1) D ≤ P:                a TaskDone is refused when D = P (Python's
//	                           "task_done() called too many times").
//	(I2) 0 ≤ G ≤ P − D:        Unfinished never goes negative.
//	(I3) m ≤ T − D − G − Σ held[j≠i]  for every give-up of m items of slot i:
//	                           a dead consumer gives up at most what is taken,
//	                           not done, not given up and not attributed to
//	                           any other slot.
//
// Who changes what: every change of the done word, of a slot's held count
// and of lostSeq is made with consLock held, so a holder of consLock sees
// all of them still and can read T (the head, stored only under consLock)
// beside them: one consistent snapshot. Producers never take consLock; a
// stale P only understates what may be marked done.
//
//   - Get (commitHead): held[me] += k beside the head store, journalled
//     (jHead, jSlot, jPrev): the head is the commit, and settleConsumer
//     restores held := jPrev when the dead get's head never landed.
//   - TaskDone: refused when P − D ≤ 0. Otherwise D + 1, and, when nothing
//     but given-up items is unfinished (P − D − G ≤ 0), also G − 1: a late
//     TaskDone for an item Join gave up takes it back, so a legitimate
//     TaskDone never fails (I1, I2). Then one slot's held − 1, the slot
//     the done is charged to (chargeSlot): our own if it holds items;
//     else a dead holder's (a consumer that handed items on and exited);
//     else, if exactly one slot holds items, that one — the item being
//     marked done was taken before, so it is that slot's (or a slotless
//     consumer's); else none: with two or more live holders TaskDone
//     cannot tell whose item it is (it carries none), and the done stays
//     unattributed, to be charged at a give-up.
//   - Give-up (Join, between its bounded sleeps): for each slot whose owner
//     is dead with held > 0: m := min(held, T − D − G − Σ held of the other
//     slots), clamped at 0 (I3) — the unattributed dones are charged to the
//     dead first, so a dead consumer is never reported holding an item
//     someone else marked done. If m > 0: lostPid and lostCount record
//     it, lostSeq + 1 (the report), G += m, and every Join that was
//     waiting returns an error naming them; the slot is freed either way.
//     The simpler rule — D += held, as if the dead had marked them done —
//     fails twice over when another process marked some of them done: D
//     passes P (Unfinished goes negative, and a later, legitimate TaskDone
//     is refused), and the report names items that were finished. Keeping
//     G apart from D is what lets a TaskDone that comes after a wrong
//     guess still count (it takes a given-up item back).
//
// The done journal makes a TaskDone's or a give-up's stores one step: the
// step writes dJWord (the done word after it), dJHeld (the slot's held
// after it), dJLost (lostSeq after it), then dJSlot := slot + 1 (with
// doneJGiveUp for a give-up); then the commit — for a give-up lostSeq
// (its report), then the done word; for a TaskDone the done word — then
// held; then dJSlot := 0. A consumer that takes consLock over from a dead
// holder (settleConsumer) with dJSlot ≠ 0 looks at the commit word: if it
// landed (lostSeq = dJLost, or done = dJWord: only consLock holders change
// either, and a step always changes its commit word), it stores the rest
// again; if not, the step never happened. So a lock-free reader of the
// done word (Unfinished) sees exactly the steps that happened. A step
// with no slot to change (a TaskDone by a process holding none, a give-up
// of 0) is one store and needs no journal.
//
// Deaths, at any instruction, leave every count exact:
//   - in a get: the get journal (above).
//   - in a TaskDone: before its done-word store it never happened (it never
//     returned); after it, it happened in full.
//   - in a give-up: the same, at its lostSeq store. A Join reads the count
//     before the report, the give-up stores them the other way round, so a
//     Join that finds nothing unfinished because of a give-up also finds
//     its report. A give-up that died before freeing the slot leaves it
//     held 0 with a dead owner: ourSlot reuses it.
//   - holding consLock between steps: nothing to settle.
//
// Memory model: every change above is made with consLock held, so one
// holder's steps happen before the next holder's; a TaskDone in any
// process happens before a Join that its done-word store lets return.
//
// What no protocol can know, and what the rules choose:
//   - Which item a TaskDone is for, when it is not the caller's own and
//     two or more live consumers hold items. The done stays unattributed;
//     if one of those consumers dies holding items truly lost, the give-up
//     charges the done to it and reports one item fewer, and the other's
//     count stays one too high: the item it stands for is given up when
//     that consumer exits (or dies), in a report that names it. Join never
//     returns early for it. A process that marks done both its own items
//     and others' has its own count lowered for the others' (own first),
//     and the taker's stays high: if the taker dies Join may report (and
//     give up) the caller's item with it. With no TaskDone from a process
//     that did not take the item, or with one holder at a time, every
//     count is exact.
//   - Whether a dead consumer handed items on. A consumer that exits while
//     a helper still works on items it took is, to Join, a consumer that
//     died holding them: Join reports them, and gives them up, so a later
//     Join may return while the helper still works. The helper's TaskDone
//     is accepted all the same (it counts as one of the rest, or takes a
//     given-up item back). A consumer that hands items on should outlive
//     their TaskDone.
//   - More than joinSlots consumer processes holding items at once: the
//     extra ones' items are counted in T only; their deaths cannot be told
//     from slowness, and their items raise the bound of (I3) for others.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/wait"
)

// ErrTaskDoneTooOften is returned by TaskDone called more times than items
// were put (Python's ValueError).
var ErrTaskDoneTooOften = errors.New("TaskDone called more times than there were items")

// ErrConsumerDied is returned by Join when a consumer process died holding
// items it had taken and not marked done.
var ErrConsumerDied = errors.New("a consumer died holding unfinished items")

// The done word (qControl.done), changed only with consLock held, read by
// anyone:
//
//	bits 63..32  G: items given up, net (mod 2^32)
//	bits 31..0   D: TaskDone calls that succeeded (mod 2^32)
const (
	doneGivenShift = 32
	doneCallsMask  = 1<<32 - 1
)

func doneWord(d, g uint32) uint64      { return uint64(g)<<doneGivenShift | uint64(d) }
func doneParts(w uint64) (d, g uint32) { return uint32(w & doneCallsMask), uint32(w >> doneGivenShift) }

// unfinishedOf is P − D − G.
func unfinishedOf(tail, done uint64) int32 {
	d, g := doneParts(done)
	return int32(pos32(tail) - d - g)
}

// TaskDone marks one item done (Python's task_done), in any process. It
// fails with ErrTaskDoneTooOften, changing nothing, when every item put has
// been marked done already. It takes consLock, briefly (see the protocol).
func (q *Queue) TaskDone() error {
	defer runtime.KeepAlive(q)
	if !q.g.Joinable {
		return fmt.Errorf("TaskDone on a Queue that is not joinable")
	}
	if err := q.lockCons(context.Background()); err != nil {
		return err
	}
	w := atomic.LoadUint64(&q.c.done)
	tail := atomic.LoadUint64(&q.c.tail)
	d, g := doneParts(w)
	if int32(pos32(tail)-d) <= 0 {
		q.cons.Unlock()
		return ErrTaskDoneTooOften
	}
	if unfinishedOf(tail, w) <= 0 {
		g-- // G ≤ P − D with D < P: g > 0; a given-up item comes back
	}
	nw := doneWord(d+1, g)
	if i, ok := q.chargeSlot(); ok {
		q.doneStep(i, nw, atomic.LoadUint64(&q.slot[i].held)-1, false)
	} else {
		atomic.StoreUint64(&q.c.done, nw)
	}
	q.cons.Unlock()
	if unfinishedOf(tail, nw) <= 0 {
		q.wakeJoiners()
	}
	return nil
}

// Unfinished is the number of items put and not yet marked done or given
// up.
func (q *Queue) Unfinished() int {
	defer runtime.KeepAlive(q)
	return q.unfinished()
}

// unfinished is P − D − G, never negative (I2).
func (q *Queue) unfinished() int {
	done := atomic.LoadUint64(&q.c.done)
	return int(unfinishedOf(atomic.LoadUint64(&q.c.tail), done))
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
			// A give-up publishes its report before the count: read
			// the report again after the count.
			return lostErr()
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
