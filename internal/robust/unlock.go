//go:build linux

package robust

import (
	"runtime"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/futex"
)

// unlockSlow is Unlock when the fast CAS failed: the caller may not own
// the lock, a taken-over holding may be unrepaired, an heir may be owed the
// lock, or sleepers may need a wake (see the protocol in mutex.go).
func (m *Mutex) unlockSlow() error {
	defer runtime.KeepAlive(m)
	w := atomic.LoadUint64(&m.rec.word)
	if w&(wordPoisoned|wordHanded) != 0 || owner(w) != m.me {
		return ErrNotOwner
	}
	if m.st.clearDirty() {
		// Taken over and never marked consistent: nobody may trust the
		// data again. Poison the word and wake everyone to learn it.
		atomic.StoreUint32(&m.rec.state, stateNotRecoverable)
		atomic.StoreUint64(&m.rec.word, wordPoisoned)
		futex.WakeAll(m.futexWord())
		atomic.AddUint32(&m.rec.heirSeq, 1)
		futex.WakeAll(&m.rec.heirSeq)
		return nil
	}
	for {
		if w&wordHandoff != 0 {
			if h := atomic.LoadUint64(&m.rec.heir); h != 0 && m.handTo(h) {
				return nil
			}
		}
		// Release. A CAS, not a swap: an heir setting the handoff bit
		// meanwhile makes it fail, and the next round hands to it.
		if atomic.CompareAndSwapUint64(&m.rec.word, w, 0) {
			if w&wordWaiters != 0 {
				atomic.StoreUint64(&m.rec.since, 0)
				wake(m.futexWord(), 1)
			}
			return nil
		}
		w = atomic.LoadUint64(&m.rec.word)
	}
}

// handTo hands the lock, which we hold, to the heir h, and reports whether
// it did. A dead heir is dropped instead; an heir that withdrew first is
// not claimed. Claiming the heir (CAS heir h → 0) comes before writing the
// word, so an heir that fails to withdraw knows the lock is on its way.
func (m *Mutex) handTo(h uint64) bool {
	if !alive(h, m.me) {
		atomic.CompareAndSwapUint64(&m.rec.heir, h, 0)
		return false
	}
	if !atomic.CompareAndSwapUint64(&m.rec.heir, h, 0) {
		return false
	}
	for {
		w := atomic.LoadUint64(&m.rec.word)
		nw := h | wordWaiters | wordHanded
		if w&wordHandoff != 0 && atomic.LoadUint64(&m.rec.heir) != 0 {
			nw |= wordHandoff // a newer heir asked meanwhile
		}
		if atomic.CompareAndSwapUint64(&m.rec.word, w, nw) {
			break
		}
	}
	atomic.StoreUint64(&m.rec.since, 0)
	atomic.AddUint32(&m.rec.heirSeq, 1)
	futex.WakeAll(&m.rec.heirSeq) // the heir; a newer one re-asserts its bit
	return true
}

// wake is futex.Wake, replaceable by tests that count wake syscalls.
var wake = futex.Wake
