//go:build linux

package robust

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proc"
)

// Consistency is the robustness state of a lock.
type Consistency uint32

const (
	// Consistent is the normal state.
	Consistent Consistency = stateConsistent
	// Inconsistent: a process took over a dead owner's lock and has not yet
	// called MarkConsistent. The protected data is suspect.
	Inconsistent Consistency = stateInconsistent
	// NotRecoverable: the lock was unlocked while inconsistent; every Lock
	// fails until Reset.
	NotRecoverable Consistency = stateNotRecoverable
)

func (c Consistency) String() string {
	switch c {
	case Consistent:
		return "consistent"
	case Inconsistent:
		return "inconsistent (owner died)"
	case NotRecoverable:
		return "not recoverable"
	}
	return fmt.Sprintf("unknown state %d", uint32(c))
}

// State is a snapshot of a lock record, readable by any process.
type State struct {
	Locked      bool
	OwnerPID    int    // 0 when unlocked
	OwnerTag    uint32 // the owner's identity tag (proc.ID.Tag)
	OwnerAlive  bool   // the owner process still runs (pid and tag match)
	HeldSince   time.Time
	Waiters     int  // goroutines blocked in Lock, in all processes (a hint: a waiter killed while blocked stays counted)
	WaitersBit  bool // an unlocker will wake a sleeper
	Consistency Consistency
	Takeovers   uint32 // dead owners taken over, ever
	// HandoffPending: a starving waiter is owed the lock, or has been
	// handed it and not yet accepted (starvation mode, see the protocol).
	HandoffPending bool
}

// State returns a snapshot of the lock. Looking counts as observing: an
// unstamped holding is stamped now (which sets the waiters bit, costing the
// holder one wake at unlock), so HeldSince is meaningful from the second
// look on (see record).
func (m *Mutex) State() State {
	for {
		w := atomic.LoadUint64(&m.rec.word)
		if w == 0 || w == wordPoisoned || m.stamped(w) {
			break
		}
		if w&wordWaiters != 0 || atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordWaiters) {
			m.stampIfUnstamped(w | wordWaiters)
			break
		}
	}
	return snapshot(m.rec)
}

// Inspect reads the lock record at the start of b without writing to it.
// b must hold RecordSize bytes at an 8-byte-aligned address.
func Inspect(b []byte) (State, error) {
	if len(b) < RecordSize {
		return State{}, fmt.Errorf("lock record: %d bytes, need %d", len(b), RecordSize)
	}
	if uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		return State{}, errors.New("lock record: not 8-byte aligned")
	}
	return snapshot((*record)(unsafe.Pointer(&b[0]))), nil
}

func snapshot(r *record) State {
	w := atomic.LoadUint64(&r.word)
	since := atomic.LoadUint64(&r.since)
	s := State{
		Locked:      w != 0 && w != wordPoisoned,
		WaitersBit:  w&wordWaiters != 0,
		Waiters:     int(int32(atomic.LoadUint32(&r.waiting))),
		Consistency: Consistency(atomic.LoadUint32(&r.state)),
		Takeovers:   atomic.LoadUint32(&r.takeovers),
	}
	if s.Waiters < 0 {
		s.Waiters = 0
	}
	if s.Consistency > NotRecoverable {
		s.Consistency = Inconsistent // how Lock reads it
	}
	if id := owner(w); s.Locked {
		s.OwnerPID = int(id & wordPIDMask)
		s.OwnerTag = uint32(id >> 32)
		s.OwnerAlive = w&wordPoisoned == 0 && proc.Alive(s.OwnerPID, s.OwnerTag)
		s.HandoffPending = w&(wordHandoff|wordHanded) != 0
		if since != 0 && since>>sinceTimeBits == id&wordPIDMask {
			s.HeldSince = time.UnixMilli(int64(since & sinceTimeMask))
		}
	}
	return s
}

// The since stamp: the owner's pid above milliseconds since 1970.
const (
	sinceTimeBits = 42
	sinceTimeMask = 1<<sinceTimeBits - 1
)

func sinceStamp(w uint64, t time.Time) uint64 {
	return (w&wordPIDMask)<<sinceTimeBits | uint64(t.UnixMilli())&sinceTimeMask
}

// stamped reports whether the holding w already carries a stamp.
func (m *Mutex) stamped(w uint64) bool {
	since := atomic.LoadUint64(&m.rec.since)
	return since != 0 && since>>sinceTimeBits == w&wordPIDMask
}

// stampNow is called by the holder right after a slow acquisition, when
// its word has the waiters bit.
func (m *Mutex) stampNow() {
	atomic.StoreUint64(&m.rec.since, sinceStamp(m.me, time.Now()))
}

// stampIfUnstamped stamps the holding w, which has the waiters bit set,
// unless it is stamped already; if the word has moved on by the time the
// stamp is written, it takes the stamp back (see record).
func (m *Mutex) stampIfUnstamped(w uint64) {
	old := atomic.LoadUint64(&m.rec.since)
	if old != 0 && old>>sinceTimeBits == w&wordPIDMask {
		return
	}
	stamp := sinceStamp(w, time.Now())
	if !atomic.CompareAndSwapUint64(&m.rec.since, old, stamp) {
		return
	}
	if atomic.LoadUint64(&m.rec.word) != w {
		atomic.CompareAndSwapUint64(&m.rec.since, stamp, 0)
	}
}
