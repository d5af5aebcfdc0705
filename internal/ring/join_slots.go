//go:build linux

package ring

// The consumer slots of a joinable queue and their journals: how a get, a
// TaskDone and a give-up change them, and how a consumer that takes
// consLock over from a dead holder settles what it left (the protocol is
// at the top of join.go).

import (
	"context"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/robust"
)

// commitHead stores the new head: the commit of a get (journalled for a
// joinable queue).
func (q *Queue) commitHead(next uint64, k int) {
	if !q.g.Joinable {
		atomic.StoreUint64(&q.c.head, next)
		return
	}
	i, ok := q.ourSlot()
	if !ok {
		// No slot free: the items are counted in T only, and a death of
		// this consumer cannot be told from slowness.
		atomic.StoreUint64(&q.c.head, next)
		return
	}
	s := &q.slot[i]
	atomic.StoreUint64(&q.c.jHead, next)
	atomic.StoreUint32(&q.c.jSlot, uint32(i+1))
	atomic.StoreUint32(&q.c.jPrev, uint32(atomic.LoadUint64(&s.held)))
	atomic.AddUint64(&s.held, uint64(k))
	atomic.StoreUint64(&q.c.head, next)
	atomic.StoreUint32(&q.c.jSlot, 0)
}

// settleConsumer settles the journals of a consumer that died holding
// consLock: a get's rolls back unless its head landed, a TaskDone's or a
// give-up's rolls forward once committed.
func (q *Queue) settleConsumer() {
	if !q.g.Joinable {
		return
	}
	if j := atomic.LoadUint32(&q.c.jSlot); j != 0 && int(j) <= len(q.slot) {
		if atomic.LoadUint64(&q.c.head) != atomic.LoadUint64(&q.c.jHead) {
			atomic.StoreUint64(&q.slot[j-1].held, uint64(atomic.LoadUint32(&q.c.jPrev)))
		}
		atomic.StoreUint32(&q.c.jSlot, 0)
	}
	q.settleDoneStep()
}

// doneJGiveUp marks dJSlot's step as a give-up (else a TaskDone).
const doneJGiveUp = 1 << 31

// doneStep changes the done word and slot i's held count as one step,
// through the done journal (see the protocol); a give-up also publishes
// its report. Call with consLock held.
func (q *Queue) doneStep(i int, word, held uint64, giveUp bool) {
	lost := atomic.LoadUint32(&q.c.lostSeq)
	j := uint32(i + 1)
	if giveUp {
		lost++
		j |= doneJGiveUp
	}
	atomic.StoreUint64(&q.c.dJWord, word)
	atomic.StoreUint64(&q.c.dJHeld, held)
	atomic.StoreUint32(&q.c.dJLost, lost)
	atomic.StoreUint32(&q.c.dJSlot, j)
	if giveUp {
		atomic.StoreUint32(&q.c.lostSeq, lost) // a give-up's commit
	}
	atomic.StoreUint64(&q.c.done, word) // a TaskDone's commit
	if testHookDoneStep != nil {
		testHookDoneStep(q, giveUp)
	}
	atomic.StoreUint64(&q.slot[i].held, held)
	atomic.StoreUint32(&q.c.dJSlot, 0)
}

// settleDoneStep finishes the done step of a consumer that died holding
// consLock, if it committed.
func (q *Queue) settleDoneStep() {
	j := atomic.LoadUint32(&q.c.dJSlot)
	if j == 0 {
		return
	}
	defer atomic.StoreUint32(&q.c.dJSlot, 0)
	i := int(j&^doneJGiveUp) - 1
	if i < 0 || i >= len(q.slot) {
		return
	}
	if j&doneJGiveUp != 0 {
		if atomic.LoadUint32(&q.c.lostSeq) != atomic.LoadUint32(&q.c.dJLost) {
			return // not committed: the give-up never happened
		}
		atomic.StoreUint64(&q.c.done, atomic.LoadUint64(&q.c.dJWord))
	} else if atomic.LoadUint64(&q.c.done) != atomic.LoadUint64(&q.c.dJWord) {
		return // not committed: the TaskDone never happened
	}
	atomic.StoreUint64(&q.slot[i].held, atomic.LoadUint64(&q.c.dJHeld))
	q.wakeJoiners()
}

// testHookDoneStep, when set, runs inside a journalled done step just
// after its commit, before the slot's held count is stored: a test kills
// the process there.
var testHookDoneStep func(q *Queue, giveUp bool)

// ourSlot returns this process's consumer slot, claiming one (with
// consLock held) on first use: the slot we own already, else a free one,
// else one whose dead owner held nothing (a dead owner holding items is
// left for Join to report).
func (q *Queue) ourSlot() (int, bool) {
	if i, ok := q.findOurSlot(); ok {
		return i, true
	}
	free := -1
	for i := range q.slot {
		if atomic.LoadUint64(&q.slot[i].owner) == 0 {
			free = i
			break
		}
	}
	if free < 0 {
		for i := range q.slot {
			o := atomic.LoadUint64(&q.slot[i].owner)
			if o != 0 && atomic.LoadUint64(&q.slot[i].held) == 0 && !robust.Alive(o) {
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

// findOurSlot returns the slot this process owns, if any.
func (q *Queue) findOurSlot() (int, bool) {
	for i := range q.slot {
		if atomic.LoadUint64(&q.slot[i].owner) == q.me {
			return i, true
		}
	}
	return 0, false
}

// chargeSlot picks the slot a TaskDone is charged to (see the protocol):
// our own if it holds items; else a dead holder's; else the one live
// holder's, if exactly one slot holds items; else none (unattributed).
// Call with consLock held.
func (q *Queue) chargeSlot() (int, bool) {
	if i, ok := q.findOurSlot(); ok && atomic.LoadUint64(&q.slot[i].held) > 0 {
		return i, true
	}
	only, holders := -1, 0
	for i := range q.slot {
		o := atomic.LoadUint64(&q.slot[i].owner)
		if o == 0 || atomic.LoadUint64(&q.slot[i].held) == 0 {
			continue
		}
		if !robust.Alive(o) {
			return i, true
		}
		only = i
		holders++
	}
	return only, holders == 1
}

// giveUpDead gives up the unfinished items of dead consumers (see the
// protocol), with consLock held so that the counts hold still.
func (q *Queue) giveUpDead() {
	if !q.anyDeadHolder() {
		return
	}
	if q.lockCons(context.Background()) != nil {
		return
	}
	changed := false
	for i := range q.slot {
		o := atomic.LoadUint64(&q.slot[i].owner)
		n := atomic.LoadUint64(&q.slot[i].held)
		if o == 0 || o == q.me || n == 0 || robust.Alive(o) {
			continue
		}
		m := q.unattributed(i)
		if m > n {
			m = n
		}
		if m == 0 {
			// Everything it took was marked done, by it or by others.
			atomic.StoreUint64(&q.slot[i].held, 0)
		} else {
			atomic.StoreUint32(&q.c.lostPid, uint32(robust.PIDOf(o)))
			atomic.StoreUint64(&q.c.lostCount, m)
			d, g := doneParts(atomic.LoadUint64(&q.c.done))
			q.doneStep(i, doneWord(d, g+uint32(m)), 0, true)
		}
		atomic.StoreUint64(&q.slot[i].owner, 0)
		changed = true
	}
	q.cons.Unlock()
	if changed {
		q.wakeJoiners()
	}
}

// anyDeadHolder reports, without the lock, whether some slot's owner is
// dead with items held: whether giveUpDead has work.
func (q *Queue) anyDeadHolder() bool {
	for i := range q.slot {
		o := atomic.LoadUint64(&q.slot[i].owner)
		if o != 0 && o != q.me && atomic.LoadUint64(&q.slot[i].held) != 0 && !robust.Alive(o) {
			return true
		}
	}
	return false
}

// unattributed is T − D − G − Σ held of the slots but i, clamped at 0: the
// most slot i's dead owner can have lost (I3). Call with consLock held.
func (q *Queue) unattributed(i int) uint64 {
	d, g := doneParts(atomic.LoadUint64(&q.c.done))
	w := int64(int32(pos32(atomic.LoadUint64(&q.c.head)) - d - g))
	for j := range q.slot {
		if j != i {
			w -= int64(atomic.LoadUint64(&q.slot[j].held))
		}
	}
	return uint64(max(w, 0))
}
