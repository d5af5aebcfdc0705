package hardening

// The ledger: the journal of the chaos tests whose objects protect data
// with a lock (Lock, RLock, Condition, Value, Array). It lives in shared
// memory as 64-bit words and is only touched with the lock held.
//
//	word  0        lgSeq       operations committed; the commit point of an
//	                           operation is the store of lgSeq+1
//	word  1        lgHolder    worker id + 1 inside the critical section, 0 none
//	word  2        lgUndoSeq   lgSeq+1 while an operation is under way (its
//	                           undo records are complete once this is stored)
//	word  3        lgUndoN     number of undo records (at most 4)
//	words 4..11    undo        pairs (word index, value before the operation)
//	word  12       lgTakeovers takeovers of a dead holder, ever
//	words 16..23   data        every word equals lgSeq between operations:
//	                           an operation writes them in two halves with a
//	                           pause between, so a kill there tears them
//	word  24       lgProduced  Condition: items produced
//	word  25       lgConsumed  Condition: items consumed
//	words 32…      counts      operations committed by worker id i
//
// An operation: check the invariants; holder := me; write the undo
// records, then lgUndoSeq := lgSeq+1; apply (counts[me]++, and produced or
// consumed); write the data halves; lgSeq++ (commit); holder := 0.
//
// Repair, by whoever took the lock from a dead holder: if lgUndoSeq ==
// lgSeq+1 the dead operation had begun and not committed, so its undo
// records put back what it changed; then data := lgSeq and holder := 0. The
// one operation in doubt is resolved exactly: committed if and only if
// the dead holder stored lgSeq+1.
//
// Invariants, at every acquisition that is not a takeover: holder == 0,
// data all equal lgSeq, sum(counts) == lgSeq, produced+consumed == lgSeq
// when the Condition's words are in use, consumed <= produced.

import (
	"fmt"
	"sync/atomic"
	"time"
)

const (
	lgSeq       = 0
	lgHolder    = 1
	lgUndoSeq   = 2
	lgUndoN     = 3
	lgUndo      = 4
	lgTakeovers = 12
	lgData      = 16
	lgDataN     = 8
	lgProduced  = 24
	lgConsumed  = 25
	lgCounts    = 32
)

// ledgerWords is the size of a ledger for maxWorkers worker ids.
func ledgerWords(maxWorkers int) int { return lgCounts + maxWorkers }

type ledger []uint64

func (l ledger) get(i int) uint64    { return atomic.LoadUint64(&l[i]) }
func (l ledger) set(i int, v uint64) { atomic.StoreUint64(&l[i], v) }
func (l ledger) count(id int) uint64 { return l.get(lgCounts + id) }
func (l ledger) workers() int        { return len(l) - lgCounts }

// check verifies the invariants; with the lock held after a normal (not
// a takeover) acquisition they must hold.
func (l ledger) check() error {
	seq := l.get(lgSeq)
	if h := l.get(lgHolder); h != 0 {
		return fmt.Errorf("ledger: worker %d still inside the critical section at seq %d, and no ErrOwnerDead", int(h)-1, seq)
	}
	for i := range lgDataN {
		if d := l.get(lgData + i); d != seq {
			return fmt.Errorf("ledger: torn data: word %d is %d at seq %d, and no ErrOwnerDead", i, d, seq)
		}
	}
	var sum uint64
	for id := range l.workers() {
		sum += l.count(id)
	}
	if sum != seq {
		return fmt.Errorf("ledger: workers' counts sum to %d, seq is %d", sum, seq)
	}
	if p, c := l.get(lgProduced), l.get(lgConsumed); p+c != 0 && (p+c != seq || c > p) {
		return fmt.Errorf("ledger: produced %d, consumed %d at seq %d", p, c, seq)
	}
	return nil
}

// op performs one operation of worker me, changing counts[me] and the
// words in also (lgProduced or lgConsumed), with pause between the data
// halves. The caller holds the lock and has checked the invariants.
func (l ledger) op(me int, pause time.Duration, also ...int) {
	seq := l.get(lgSeq)
	l.set(lgHolder, uint64(me)+1)
	mod := append([]int{lgCounts + me}, also...)
	for i, idx := range mod {
		l.set(lgUndo+2*i, uint64(idx))
		l.set(lgUndo+2*i+1, l.get(idx))
	}
	l.set(lgUndoN, uint64(len(mod)))
	l.set(lgUndoSeq, seq+1)
	for _, idx := range mod {
		l.set(idx, l.get(idx)+1)
	}
	for i := range lgDataN / 2 {
		l.set(lgData+i, seq+1)
	}
	if pause > 0 {
		spin(pause)
	}
	for i := lgDataN / 2; i < lgDataN; i++ {
		l.set(lgData+i, seq+1)
	}
	l.set(lgSeq, seq+1) // commit
	l.set(lgHolder, 0)
}

// repair resolves what a dead holder left, with the lock held after
// ErrOwnerDead. It returns the id of the worker that was inside the
// critical section (-1 if none was recorded: killed just after taking the
// lock or just before releasing it) and whether an uncommitted operation
// was rolled back.
func (l ledger) repair() (was int, rolledBack bool) {
	seq := l.get(lgSeq)
	if l.get(lgUndoSeq) == seq+1 {
		n := int(l.get(lgUndoN))
		for i := range min(n, 4) {
			idx, old := int(l.get(lgUndo+2*i)), l.get(lgUndo+2*i+1)
			if idx >= lgProduced && idx < len(l) {
				l.set(idx, old)
			}
		}
		l.set(lgUndoSeq, seq)
		rolledBack = true
	}
	for i := range lgDataN {
		l.set(lgData+i, seq)
	}
	was = int(l.get(lgHolder)) - 1
	l.set(lgHolder, 0)
	l.set(lgTakeovers, l.get(lgTakeovers)+1)
	return was, rolledBack
}

// spin busy-waits for d: a critical section long enough for kills to land
// inside it, without a system call that would hide where the kill lands.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}
