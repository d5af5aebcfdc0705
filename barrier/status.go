package barrier

// Introspection: what Wait reports when the barrier is broken, and what
// other processes and tools can read.

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/layout"
)

var reasonText = [...]string{
	reasonNone:     "",
	reasonAbort:    "aborted",
	reasonTimeout:  "a party timed out",
	reasonCanceled: "a party's context was cancelled",
	reasonClosed:   "a party's Barrier was closed while it waited",
	reasonAction:   "the Action failed",
	reasonNoAction: "a cycle completed in a process without the Action",
	reasonDied:     "a waiting party's process died",
	reasonReset:    "reset",
	reasonCorrupt:  "impossible shared state was repaired",
}

func reasonString(r uint32) string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("reason %d", r)
}

// brokenErr is the error of a Wait that finds the barrier broken or reset.
func (b *Barrier) brokenErr() error {
	r := atomic.LoadUint32(&b.sh.reason)
	pid := atomic.LoadUint32(&b.sh.breaker)
	switch {
	case r == reasonDied && pid != 0:
		return fmt.Errorf("%w: %w (pid %d)", ErrBroken, ErrPartyDied, pid)
	case r == reasonDied:
		return fmt.Errorf("%w: %w", ErrBroken, ErrPartyDied)
	case r == reasonNone:
		return ErrBroken
	case pid != 0:
		return fmt.Errorf("%w: %s (pid %d)", ErrBroken, reasonString(r), pid)
	}
	return fmt.Errorf("%w: %s", ErrBroken, reasonString(r))
}

// NWaiting returns the number of parties waiting for the current cycle to
// complete (Python's n_waiting): 0 unless the barrier is filling.
func (b *Barrier) NWaiting() int {
	if b.life.Closed() {
		return 0
	}
	defer runtime.KeepAlive(b)
	if b.phase() != phaseFilling {
		return 0
	}
	return min(int(atomic.LoadUint32(&b.sh.count)), b.parties)
}

// Broken reports whether the barrier is broken (Python's broken).
func (b *Barrier) Broken() bool {
	if b.life.Closed() {
		return false
	}
	defer runtime.KeepAlive(b)
	return b.phase() == phaseBroken
}

// Cycles returns how many cycles have completed since the barrier was
// created, in all processes.
func (b *Barrier) Cycles() uint64 {
	if b.life.Closed() {
		return 0
	}
	defer runtime.KeepAlive(b)
	return atomic.LoadUint64(&b.sh.cycles)
}

// Status is a snapshot of a barrier's shared state, for tools such as
// `multiproc inspect`. It is read without the barrier's lock, so its fields
// may come from slightly different moments.
type Status struct {
	Parties int
	Waiting int    // NWaiting
	Phase   string // "filling", "draining", "resetting" or "broken"
	Broken  bool
	Cycles  uint64
	PIDs    []int  // processes with a party inside Wait, one entry per party
	Reason  string // why it broke, "" if it is not broken
	By      int    // pid that broke it (or died), 0 if unknown
}

var phaseNames = [...]string{
	phaseFilling:   "filling",
	phaseDraining:  "draining",
	phaseResetting: "resetting",
	phaseBroken:    "broken",
}

// Status returns a snapshot of the barrier's shared state.
func (b *Barrier) Status() Status {
	if b.life.Closed() {
		return Status{Parties: b.parties, Phase: "closed"}
	}
	defer runtime.KeepAlive(b)
	sh := b.sh
	return statusOf(b.parties, atomic.LoadUint32(&sh.phase), atomic.LoadUint32(&sh.count),
		atomic.LoadUint32(&sh.reason), atomic.LoadUint32(&sh.breaker), atomic.LoadUint64(&sh.cycles),
		func(i int) uint64 { return atomic.LoadUint64(&b.slots[i]) })
}

func statusOf(parties int, phase, count, reason, breaker uint32, cycles uint64, slot func(int) uint64) Status {
	ph := min(phase, phaseBroken) // unknown phases read as broken, as Wait reads them
	st := Status{
		Parties: parties,
		Phase:   phaseNames[ph],
		Broken:  ph == phaseBroken,
		Cycles:  cycles,
	}
	if ph == phaseFilling {
		st.Waiting = min(int(count), parties)
	}
	for i := range parties {
		if v := slot(i); v != 0 {
			st.PIDs = append(st.PIDs, int(uint32(v)))
		}
	}
	if ph == phaseBroken || ph == phaseResetting {
		st.Reason = reasonString(reason)
		st.By = int(breaker)
	}
	return st
}

// Inspect reads a barrier's state from the bytes of its file, header
// included, without its lock and without writing: for tools that must not
// open the barrier for use (Open holds the file's liveness lock). The
// bytes may be a copy (os.ReadFile) or a read-only mapping; in a mapping
// they may change while Inspect reads, so fields may come from slightly
// different moments. The checks are Open's: a file that is not a barrier,
// or holds impossible sizes, gives an error wrapping ErrCorrupt or
// ErrKindMismatch, never a panic.
func Inspect(file []byte) (Status, error) {
	h, err := layout.Decode(file)
	if err == nil {
		err = h.Expect("file", layout.KindBarrier)
	}
	if err != nil {
		return Status{}, err
	}
	p := file[layout.HeaderSize : layout.HeaderSize+int(h.PayloadSize)]
	parties, err := checkPayload(p)
	if err != nil {
		return Status{}, err
	}
	le := binary.LittleEndian
	return statusOf(parties, le.Uint32(p[offPhase:]), le.Uint32(p[offCount:]),
		le.Uint32(p[offReason:]), le.Uint32(p[offBreaker:]), le.Uint64(p[offCycles:]),
		func(i int) uint64 { return le.Uint64(p[sharedSize+8*i:]) }), nil
}
