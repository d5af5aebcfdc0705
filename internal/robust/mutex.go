//go:build linux

// Package robust is the process-owned, owner-death-tolerant futex mutex
// that every multiproc lock is built on: sem.Lock, sem.RLock and
// sem.Condition's own lock, and the locks embedded in Value, Array, Barrier
// and Queue segments. It lives in a 64-byte record anywhere in a mapped
// segment; an all-zero record is an unlocked, consistent lock.
//
// # Protocol
//
// The lock word is 64 bits. Its low half is the futex word; its high half
// is the owner's identity tag (proc.ID.Tag: pidfs inode bits on Linux 6.9+,
// else start-time bits), published by the same CAS that publishes the owner's pid, so
// no reader ever sees a pid without its tag (technical.md §4.2). A process,
// not a goroutine, owns the lock: any goroutine of the owning process may
// unlock it, as with sync.Mutex.
//
// Lock, fast path: CAS word 0 → me (me = pid | tag<<32). Nothing else: no
// syscall, no clock, no process-local mutex, no other shared write.
//
// Unlock, fast path: CAS word me → 0. That fails if any flag is set or the
// caller does not own the lock; the slow path then checks ownership and
// either hands the lock to a starving waiter or releases it (below).
//
// Lock, slow path, in order (lockslow.go):
//
//  1. Enter this process's gate for the record (internal/wait: one per
//     record in a process, shared by its handles), honouring ctx and the
//     handle's Close. Only the gate's holder spins or sleeps in the kernel,
//     so a thousand goroutines waiting on one lock hold one OS thread.
//  2. Spin (wait.SpinUntil), trying CAS 0 → me whenever the word reads 0.
//  3. Loop:
//     - w == 0: CAS 0 → me|waiters if we have slept, else 0 → me. Once a
//     waiter has slept it cannot know that nobody else sleeps, so it takes
//     the lock with the waiters bit set — Drepper's mutex2 rule; the cost
//     is at most one needless wake later.
//     - w == poisoned: return ErrNotRecoverable.
//     - Otherwise make sure the waiters bit is set, and check the owner's
//     liveness (proc.Watch: the identity tag checked on a pidfd, once per owner;
//     then a poll of the owner's pidfd, kept by this process). A dead
//     owner's word is replaced by CAS w → me|waiters: the taker holds the
//     lock and gets ErrOwnerDead — unless the word was only handed to the
//     dead process and never accepted (wordHanded), when the data was never
//     touched and the takeover is a plain acquisition.
//     - Having waited longer than starveAfter, ask for a handoff (below).
//     - Sleep on the low half, expecting w, for one bounded slice
//     (wait.Sleeper: the poll interval, the ctx deadline, a cancel kick).
//     The slice bounds how long a death goes unnoticed, also a death
//     between an unlocker's release and its wake.
//     - On a cancelled or expired ctx, give back what we may have taken:
//     if the word is now 0, wake one sleeper (we may have eaten the
//     unlocker's only wake); if it is held without the waiters bit, set
//     the bit. Then return ctx.Err(). A cancelled waiter never strands the
//     next one.
//
// Starvation mode (as sync.Mutex's, across processes). A spinner or a
// fresh locker can take a released lock before a woken sleeper runs, so a
// process that unlocks and relocks in a tight loop could keep a sleeper out
// for ever. A waiter that has waited past starveAfter becomes the heir: it
// claims record.heir by CAS 0 → me (one heir at a time) and sets
// wordHandoff in the word. An unlocker that finds wordHandoff claims the
// heir (CAS heir h → 0), writes the word h|waiters|handed — the lock now
// belongs to the heir, and was never free for a barger — bumps heirSeq and
// wakes it; the heir, asleep on heirSeq, accepts by clearing wordHanded.
// Robustness is kept at every step: an unlocker checks the heir is alive
// before handing (a dead heir is dropped and the lock released normally);
// an heir that dies after the claim leaves a handed word whose dead owner
// the next waiter takes over without ErrOwnerDead; an unlocker that dies
// between its claim and its write still owns the lock, which its heir takes
// over with ErrOwnerDead as from any dead owner. An heir whose ctx ends
// withdraws by CAS heir me → 0; if that fails, an unlocker has claimed it,
// so it waits for the handed word, accepts, and unlocks again before it
// returns ctx.Err(). Each handoff needs a starving waiter, so the lock
// returns to normal mode by itself once waits are short again.
//
// Takeover and repair (pthread's robust mutex contract): the taker stores
// state = inconsistent, counts the takeover, marks the holding dirty in its
// process and returns ErrOwnerDead with the lock held. The taker's word
// always carries the waiters bit, so its Unlock takes the slow path. There,
// a holding still dirty (the holder never called MarkConsistent) is not
// released but poisoned: state = not recoverable, word = poisoned (bit 30
// alone, which no owner can have), and every sleeper is woken to learn it.
// From then on every Lock fails with ErrNotRecoverable until Reset. If the
// repairing holder dies too, the next taker gets ErrOwnerDead again.
//
// The state word is written for readers in other processes (State, the
// CLI); the protocol itself relies only on the lock word, heir and heirSeq,
// and on the process-local dirty mark, so foreign bytes in the state word
// cannot make a lock misbehave.
//
// Memory model: every access to the word is a sequentially consistent
// atomic, so an Unlock in any process happens before the next successful
// Lock in any process, and so does everything the unlocker wrote before it.
package robust

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// RecordSize is the size of a lock record: one cache line. Records must
// start at a multiple of 8 bytes (64 keeps them on their own line).
const RecordSize = 64

// record is the shared layout of a lock. Offsets:
//
//	offset size field
//	     0    8 word      lock word (below)
//	     8    4 state     consistency (below); written only by the holder
//	    12    4 takeovers dead owners taken over, ever (atomic add by the taker)
//	    16    4 heirSeq   futex word the heir sleeps on; +1 by each handoff
//	    20    4 waiting   goroutines in all processes blocked in Lock (atomic add)
//	    24    8 since     when the current holding began or was first seen (below)
//	    32    8 heir      identity word (pid | tag<<32) of the waiter owed a
//	                      handoff, 0 if none: CAS 0 → me by the starving
//	                      waiter, CAS h → 0 by the unlocker that hands to it
//	                      or by the heir withdrawing
//	    40   24 (reserved, zero)
//
// The lock word, bits high to low:
//
//	63..32 the owner's identity tag (proc.ID.Tag: its pidfs inode where
//	       the kernel has pidfs, else its start time)
//	31     waiters: someone may sleep in the kernel; the unlocker must wake
//	30     poisoned: alone (pid 0), the lock is not recoverable; a word
//	       with a pid and this bit matches no live process
//	29     handoff: an heir waits (see heir); the unlocker must hand to it
//	28     handed: the lock was handed to the owner in this word, which
//	       has not accepted it yet (it never ran with the lock)
//	27..22 (reserved, zero)
//	21..0  owner pid (PID_MAX_LIMIT is 2^22 on 64-bit Linux); 0 with the
//	       rest zero means unlocked
//
// Only the futex half (bits 31..0, offset 0 on little-endian machines) is
// passed to FUTEX_WAIT. Anyone may set the waiters bit by CAS, an heir the
// handoff bit; only the owner (or a taker of a dead owner's word, by CAS)
// writes the rest.
//
// since is the owner's pid (bits 63..42) above a time in milliseconds since
// 1970 (bits 41..0, good until 2109); it describes the current holding when
// its pid is the owner's. The fast path never reads the clock (time.Now
// costs four lock pairs here) and never writes since. Instead it is written
// by those who see the holding: a holder that had to wait (the exact
// acquisition time), and the first waiter or State call to find the holding
// unstamped. They stamp only with the waiters bit set, which sends the
// owner's unlock down the slow path, where the stamp is cleared; a stamper
// that finds the word changed after its stamp takes the stamp back. So
// HeldSince is the acquisition time when the lock was contended, else the
// first time anyone looked; a stale stamp (an ABA of the word between a
// stamp and its check) outlives at most one holding.
type record struct {
	word      uint64
	state     uint32
	takeovers uint32
	heirSeq   uint32
	waiting   uint32
	since     uint64
	heir      uint64
	_         [24]byte
}

var _ [RecordSize - unsafe.Sizeof(record{})]byte
var _ [unsafe.Sizeof(record{}) - RecordSize]byte

// Lock word bits.
const (
	wordWaiters  = 1 << 31
	wordPoisoned = 1 << 30
	wordHandoff  = 1 << 29
	wordHanded   = 1 << 28
	wordFlags    = wordWaiters | wordHandoff | wordHanded
	wordPIDMask  = 1<<22 - 1
)

// State word values, written only by the holder, for readers elsewhere.
const (
	stateConsistent     = 0 // normal
	stateInconsistent   = 1 // a taker holds a dead owner's lock; data suspect
	stateNotRecoverable = 2 // unlocked while inconsistent; word poisoned
)

// starveAfter is how long a waiter waits before it asks for a handoff
// (sync.Mutex's starvation threshold). A variable only for tests.
var starveAfter = time.Millisecond

// Mutex is one process's handle on a lock record. Handles attached to the
// same record share one gate and one process-local state in this process.
// A Mutex holds its File, so the mapping lives as long as the Mutex does
// (internal/segment's close contract).
type Mutex struct {
	rec  *record
	me   uint64 // our lock word: pid | tag<<32
	st   *local
	file *segment.File
	h    *wait.Handle // Close of this handle ends our waits; nil: never
}

// Attach returns a handle on the lock record at byte offset off of f. The
// record needs RecordSize bytes at an offset that is a multiple of 8; other
// offsets are a programming error and panic with the offset. h is the
// handle whose Close ends this Mutex's waits with wait.ErrClosed (nil if
// nothing closes it).
func Attach(f *segment.File, off int, h *wait.Handle) *Mutex {
	b := f.Bytes()
	if off < 0 || off%8 != 0 || off > len(b)-RecordSize {
		panic(fmt.Sprintf("robust: lock record at offset %d does not fit a %d-byte file (needs %d bytes, 8-aligned)", off, len(b), RecordSize))
	}
	return &Mutex{
		rec:  (*record)(unsafe.Pointer(&b[off])),
		me:   selfWord(),
		st:   localFor(wait.Key{Dev: f.Dev, Ino: f.Ino, Off: int64(off)}),
		file: f,
		h:    h,
	}
}

func selfWord() uint64 {
	id := proc.Self()
	return uint64(id.PID)&wordPIDMask | uint64(id.Tag)<<32
}

func (m *Mutex) futexWord() *uint32 { return (*uint32)(unsafe.Pointer(&m.rec.word)) }

// Lock acquires the lock, blocking until it is free, ctx ends, the handle
// closes, or its owner is found dead. It returns nil, ErrOwnerDead (held:
// repair, then MarkConsistent), ErrNotRecoverable (not held), ctx.Err()
// (not held) or wait.ErrClosed (not held).
func (m *Mutex) Lock(ctx context.Context) error {
	if m.LockFast() {
		runtime.KeepAlive(m)
		return nil
	}
	return m.lockSlow(ctx)
}

// LockFast acquires the lock if it is free and reports whether it did: the
// fast path of Lock alone, small enough to inline into a caller's own fast
// path (which then calls Lock when it reports false). The caller must keep
// the Mutex (or a handle that refers to it) alive until the call has
// returned, with runtime.KeepAlive, since the Mutex keeps the mapping.
func (m *Mutex) LockFast() bool {
	if raceEnabled {
		return m.lockFastRace()
	}
	return atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me)
}

func (m *Mutex) lockFastRace() bool {
	ok := atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me)
	if ok {
		raceAcquire(m)
	}
	runtime.KeepAlive(m)
	return ok
}

// UnlockFast releases the lock if this process holds it and no flag is
// set, and reports whether it did: the fast path of Unlock alone (a caller
// calls Unlock when it reports false). The caller keeps the Mutex alive,
// as for LockFast.
func (m *Mutex) UnlockFast() bool {
	if raceEnabled {
		raceRelease(m)
	}
	return atomic.CompareAndSwapUint64(&m.rec.word, m.me, 0)
}

// Unlock releases the lock, which this process must hold, or hands it to
// a starving waiter. Unlocking a lock taken with ErrOwnerDead without
// MarkConsistent makes it not recoverable. It returns ErrNotOwner,
// changing nothing, when this process does not hold the lock.
func (m *Mutex) Unlock() error {
	if m.UnlockFast() {
		runtime.KeepAlive(m)
		return nil
	}
	return m.unlockSlow()
}

// owner is the owner identity in a word: pid and tag, without the flags.
func owner(w uint64) uint64 { return w &^ (wordFlags | wordPoisoned) }

// HeldByUs reports whether this process holds the lock (one that was
// handed to it counts once it has been accepted).
func (m *Mutex) HeldByUs() bool {
	w := atomic.LoadUint64(&m.rec.word)
	return w&(wordPoisoned|wordHanded) == 0 && owner(w) == m.me
}

// MarkConsistent declares the data protected by a lock taken with
// ErrOwnerDead repaired. It is valid only while this process holds the
// lock (else ErrNotOwner); on a consistent lock it does nothing.
func (m *Mutex) MarkConsistent() error {
	if !m.HeldByUs() {
		return ErrNotOwner
	}
	if m.st.clearDirty() || atomic.LoadUint32(&m.rec.state) != stateConsistent {
		atomic.StoreUint32(&m.rec.state, stateConsistent)
	}
	return nil
}

// Reset makes the record an unlocked, consistent lock again, whatever it
// held: the only way out of not recoverable (pthread's destroy and init).
// Use it only when no process can be using the lock.
func (m *Mutex) Reset() {
	m.st.clearDirty()
	atomic.StoreUint32(&m.rec.state, stateConsistent)
	atomic.StoreUint64(&m.rec.since, 0)
	atomic.StoreUint64(&m.rec.heir, 0)
	atomic.StoreUint64(&m.rec.word, 0)
	futex.WakeAll(m.futexWord())
	atomic.AddUint32(&m.rec.heirSeq, 1)
	futex.WakeAll(&m.rec.heirSeq)
	runtime.KeepAlive(m)
}

// Kick wakes every sleeper on the lock, in every process, so that each
// re-checks its state: a handle's Close uses it to reach its own waiters.
// Others see a spurious wake-up and sleep on.
func (m *Mutex) Kick() {
	futex.WakeAll(m.futexWord())
	futex.WakeAll(&m.rec.heirSeq)
	runtime.KeepAlive(m)
}

// closed is the Mutex that Closed returns: a record in the Go heap whose
// word is poisoned for good.
var closed = &Mutex{
	rec: &record{word: wordPoisoned, state: stateNotRecoverable},
	me:  selfWord(),
	st:  new(local),
}

// Closed returns a Mutex on which every fast path fails (its word is
// poisoned): a closed handle swaps it in for its real Mutex, so that its
// inlined fast paths fail and reach the slow path, which reports the closed
// handle, without a closed check of their own.
func Closed() *Mutex { return closed }

// Local returns the process-local state shared by every handle on this
// record in this process (used by reentrant locks for their owner and
// depth).
func (m *Mutex) Local() *Local { return &m.st.local }

// Local is per-process scratch state of one lock record, shared by all its
// handles: the owner and depth of a reentrant lock (sem.RLock, whose doc
// gives the protocol that lets Owner be a plain word). The robust mutex
// does not use it.
type Local struct {
	Owner int64 // the owning goroutine of a reentrant lock, 0 if none; written only by it
	Depth int64 // recursion depth; read and written only by the owner
}
