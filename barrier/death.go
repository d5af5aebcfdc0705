package barrier

// Death of parties: finding them (without M) and clearing them (with M).

import (
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/proc"
)

// someoneDied reports whether a party of another process in the slot table
// is dead. It reads the table without M; removeDead re-checks under M.
func (b *Barrier) someoneDied() bool {
	seen := map[uint64]bool{}
	for i := range b.slots {
		v := atomic.LoadUint64(&b.slots[i])
		if v == 0 || v == b.me || seen[v] {
			continue
		}
		seen[v] = true
		if !proc.Alive(int(uint32(v)), uint32(v>>32)) {
			return true
		}
	}
	return false
}

// clearDead frees the slots of dead processes, with M held, and returns
// the pid of one of them (0 if none).
func (b *Barrier) clearDead() (pid uint32) {
	alive := map[uint64]bool{}
	for i := range b.slots {
		v := atomic.LoadUint64(&b.slots[i])
		if v == 0 || v == b.me {
			continue
		}
		ok, seen := alive[v]
		if !seen {
			ok = proc.Alive(int(uint32(v)), uint32(v>>32))
			alive[v] = ok
		}
		if !ok {
			atomic.StoreUint64(&b.slots[i], 0)
			pid = uint32(v)
		}
	}
	return pid
}

// recount makes count the number of occupied slots: the invariant at every
// moment M is free, restored after a holder died mid-change.
func (b *Barrier) recount() {
	n := uint32(0)
	for i := range b.slots {
		if atomic.LoadUint64(&b.slots[i]) != 0 {
			n++
		}
	}
	atomic.StoreUint32(&b.sh.count, n)
}

// removeDead, with M held, frees dead parties' slots; a death in a filling
// or draining barrier breaks it. See the protocol, Death.
func (b *Barrier) removeDead(s *section) {
	pid := b.clearDead()
	if pid == 0 {
		return
	}
	b.recount()
	if ph := b.phase(); ph == phaseFilling || ph == phaseDraining {
		b.breakBy(s, reasonDied, pid)
	} else {
		s.notify(b)
	}
	b.settle(s)
}

// repair, with M held after its holder died (or with impossible state),
// frees dead slots, recounts and breaks the barrier.
func (b *Barrier) repair(s *section, reason uint32) {
	pid := b.clearDead()
	b.recount()
	b.breakBy(s, reason, pid)
}
