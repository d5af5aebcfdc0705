//go:build linux

// Package robust is the process-owned, owner-death-tolerant futex mutex
// that every multiproc lock is built on: sem.Lock, sem.RLock and
// sem.Condition, and the locks embedded in Value, Array, Barrier and Queue
// segments. It lives in a 64-byte record anywhere in a mapped segment; an
// all-zero record is an unlocked, consistent lock.
//
// # Protocol
//
// The lock word is 64 bits. Its low half is the futex word; its high half
// is the low 32 bits of the owner's start time, published by the same CAS
// that publishes the owner's pid, so no reader ever sees a pid without its
// identity (technical.md §4.2). A process, not a goroutine, owns the lock:
// any goroutine of the owning process may unlock it, as with sync.Mutex.
//
// Lock, fast path: CAS word 0 → me (me = pid | start32<<32). Nothing else:
// no syscall, no clock, no process-local mutex, no other shared write.
//
// Unlock, fast path: CAS word me → 0. That fails if the waiters bit is set
// or the caller does not own the lock; the slow path then checks ownership,
// swaps the word to 0 and, if the old word had the waiters bit, clears the
// held-since stamp and wakes one sleeper.
//
// Lock, slow path, in order:
//
//  1. Take the per-process gate for this record (one per dev, inode and
//     offset in this process; a channel of capacity 1), honouring ctx. Only
//     the gate's holder spins or sleeps in the kernel, so a thousand
//     goroutines waiting on one lock hold one OS thread, not a thousand.
//  2. Spin for a short, tunable time (SetSpin), reading the word and trying
//     CAS 0 → me whenever it reads 0, and yielding the CPU between bursts
//     of looks. On a VM, waking a sleeping CPU costs tens of µs; a spinner
//     takes a lock released within its spin in about a µs, and the yield
//     lets a holder that needs this CPU release it.
//  3. Loop:
//     - w == 0: CAS 0 → me|waiters if we have slept (or set the bit), else
//     0 → me. Once a waiter has slept it cannot know that nobody else
//     sleeps, so it takes the lock with the waiters bit set — Drepper's
//     mutex2 rule; the cost is at most one needless wake later.
//     - w == poisoned: return ErrNotRecoverable.
//     - Otherwise make sure the waiters bit is set (CAS w → w|waiters; on
//     failure reload), and check the owner's liveness (proc.Alive: pidfd
//     and /proc start time, once per owner; then a poll of the owner's
//     pidfd, kept by this process). A dead owner's word is replaced by CAS w → me|waiters: the
//     taker holds the lock and gets ErrOwnerDead. Two takers race on the
//     same CAS; the loser reloads. A dead owner's identity never comes back
//     (pid and start time together are unique per boot), so the CAS has no
//     ABA.
//     - Sleep in FUTEX_WAIT on the low half, expecting w|waiters, until the
//     end of one poll interval (SetPollInterval, default 100 ms) or the ctx
//     deadline, whichever is first; a cancel wakes the sleepers at once.
//     The interval bounds how long a death goes unnoticed, also a death
//     between an unlocker's swap and its wake.
//     - On a cancelled or expired ctx, give back what we may have taken: if
//     the word is now 0, wake one sleeper (we may have eaten the unlocker's
//     only wake); if it is held without the waiters bit, set the bit (the
//     sleepers that relied on us to re-set it must still be woken). Then
//     return ctx.Err(). A cancelled waiter never strands the next one.
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
// CLI); the protocol itself relies only on the lock word and on the
// process-local dirty mark, so foreign bytes in the state word cannot make
// a lock misbehave.
//
// Memory model: every access to the word is a sequentially consistent
// atomic, so an Unlock in any process happens before the next successful
// Lock in any process, and so does everything the unlocker wrote before it.
package robust

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/segment"
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
//	    16    4 (reserved, zero)
//	    20    4 waiting   goroutines in all processes blocked in Lock (atomic add)
//	    24    8 since     when the current holding began or was first seen (below)
//	    32   32 (reserved, zero)
//
// The lock word, bits high to low:
//
//	63..32 low 32 bits of the owner's start time (clock ticks since boot)
//	31     waiters: someone may sleep in the kernel; the unlocker must wake
//	30     poisoned: alone (pid 0), the lock is not recoverable; a word
//	       with a pid and this bit matches no live process
//	29..0  owner pid; 0 with the rest zero means unlocked
//
// Only the futex half (bits 31..0, offset 0 on little-endian machines) is
// passed to FUTEX_WAIT. Anyone may set the waiters bit by CAS; only the
// owner (or a taker of a dead owner's word, by CAS) writes the rest.
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
	_         uint32
	waiting   uint32
	since     uint64
	_         [32]byte
}

var _ [RecordSize - unsafe.Sizeof(record{})]byte
var _ [unsafe.Sizeof(record{}) - RecordSize]byte

// Lock word bits.
const (
	wordWaiters  = 1 << 31
	wordPoisoned = 1 << 30
	wordPIDMask  = 1<<30 - 1
)

// State word values, written only by the holder, for readers elsewhere.
const (
	stateConsistent     = 0 // normal
	stateInconsistent   = 1 // a taker holds a dead owner's lock; data suspect
	stateNotRecoverable = 2 // unlocked while inconsistent; word poisoned
)

// Mutex is one process's handle on a lock record. Handles attached to the
// same record share one gate in this process. A Mutex has no state of its
// own beyond pointers, so copies are fine, but the mapping must stay valid
// while any goroutine uses it.
type Mutex struct {
	rec  *record
	me   uint64 // our lock word: pid | start32<<32
	gate *gate
}

// Attach returns a handle on the lock record at byte offset off of f. The
// record needs RecordSize bytes at an offset that is a multiple of 8; other
// offsets are a programming error and panic with the offset.
func Attach(f *segment.File, off int) *Mutex {
	b := f.Bytes()
	if off < 0 || off%8 != 0 || off > len(b)-RecordSize {
		panic(fmt.Sprintf("robust: lock record at offset %d does not fit a %d-byte file (needs %d bytes, 8-aligned)", off, len(b), RecordSize))
	}
	return &Mutex{
		rec:  (*record)(unsafe.Pointer(&b[off])),
		me:   selfWord(),
		gate: gateFor(gateKey{dev: f.Dev, ino: f.Ino, off: off}),
	}
}

func selfWord() uint64 {
	id := proc.Self()
	return uint64(id.PID)&wordPIDMask | uint64(id.Start32())<<32
}

func (m *Mutex) futexWord() *uint32 { return (*uint32)(unsafe.Pointer(&m.rec.word)) }

// Lock acquires the lock, blocking until it is free, ctx ends, or its owner
// is found dead. It returns nil, ErrOwnerDead (held: repair, then
// MarkConsistent), ErrNotRecoverable (not held), or ctx.Err() (not held).
func (m *Mutex) Lock(ctx context.Context) error {
	if atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me) {
		if raceEnabled {
			raceAcquire(m)
		}
		return nil
	}
	return m.lockSlow(ctx)
}

// LockFast acquires the lock if it is free and reports whether it did: the
// fast path of Lock alone, small enough to inline into a caller's own fast
// path (which then calls Lock when it reports false).
func (m *Mutex) LockFast() bool {
	if atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me) {
		if raceEnabled {
			raceAcquire(m)
		}
		return true
	}
	return false
}

// UnlockFast releases the lock if this process holds it and no one waits,
// and reports whether it did: the fast path of Unlock alone (a caller
// calls Unlock when it reports false).
func (m *Mutex) UnlockFast() bool {
	if raceEnabled {
		raceRelease(m)
	}
	return atomic.CompareAndSwapUint64(&m.rec.word, m.me, 0)
}

// TryLock acquires the lock if it is free, or if its owner is dead (then
// with ErrOwnerDead, held). It never blocks. It reports whether the caller
// now holds the lock; with ErrNotRecoverable it does not.
func (m *Mutex) TryLock() (bool, error) {
	r := m.rec
	if atomic.CompareAndSwapUint64(&r.word, 0, m.me) {
		raceAcquire(m)
		return true, nil
	}
	return m.tryLockSlow()
}

// Unlock releases the lock, which this process must hold. Unlocking a lock
// taken with ErrOwnerDead without MarkConsistent makes it not recoverable.
// It returns ErrNotOwner, changing nothing, when this process does not hold
// the lock.
func (m *Mutex) Unlock() error {
	if raceEnabled {
		raceRelease(m)
	}
	if atomic.CompareAndSwapUint64(&m.rec.word, m.me, 0) {
		return nil
	}
	return m.unlockSlow()
}

// HeldByUs reports whether this process holds the lock.
func (m *Mutex) HeldByUs() bool {
	return atomic.LoadUint64(&m.rec.word)&^wordWaiters == m.me
}

// MarkConsistent declares the data protected by a lock taken with
// ErrOwnerDead repaired. It is valid only while this process holds the
// lock (else ErrNotOwner); on a consistent lock it does nothing.
func (m *Mutex) MarkConsistent() error {
	if !m.HeldByUs() {
		return ErrNotOwner
	}
	if m.gate.clearDirty() || atomic.LoadUint32(&m.rec.state) != stateConsistent {
		atomic.StoreUint32(&m.rec.state, stateConsistent)
	}
	return nil
}

// Reset makes the record an unlocked, consistent lock again, whatever it
// held: the only way out of not recoverable (pthread's destroy and init).
// Use it only when no process can be using the lock.
func (m *Mutex) Reset() {
	m.gate.clearDirty()
	atomic.StoreUint32(&m.rec.state, stateConsistent)
	atomic.StoreUint64(&m.rec.since, 0)
	atomic.StoreUint64(&m.rec.word, 0)
	futex.WakeAll(m.futexWord())
}

// Local returns the process-local state shared by every handle on this
// record in this process (used by reentrant locks for their owner and
// depth).
func (m *Mutex) Local() *Local { return &m.gate.local }

// Local is per-process scratch state of one lock record, shared by all its
// handles in the process. The robust mutex does not use it.
type Local struct {
	Owner atomic.Int64 // e.g. the owning thread of a reentrant lock, 0 if none
	Depth atomic.Int64 // recursion depth; changed only by the owner
}

// acquiredSlow finishes an acquisition that went through the slow path
// by stamping the time (the clock is affordable here) — if the waiters bit
// is set, so that the unlock clears the stamp (see record).
func (m *Mutex) acquiredSlow() error {
	raceAcquire(m)
	if atomic.LoadUint64(&m.rec.word)&wordWaiters != 0 {
		m.stampNow()
	}
	return nil
}

// tookOver finishes the takeover of a dead owner's word (which the taker's
// CAS replaced by me|waiters).
func (m *Mutex) tookOver() error {
	raceAcquire(m)
	m.stampNow()
	m.gate.markDirty()
	atomic.StoreUint32(&m.rec.state, stateInconsistent)
	atomic.AddUint32(&m.rec.takeovers, 1)
	return ErrOwnerDead
}

func (m *Mutex) unlockSlow() error {
	w := atomic.LoadUint64(&m.rec.word)
	if w&^wordWaiters != m.me {
		return ErrNotOwner
	}
	if m.gate.clearDirty() {
		// Taken over and never marked consistent: nobody may trust the
		// data again. Poison the word and wake everyone to learn it.
		atomic.StoreUint32(&m.rec.state, stateNotRecoverable)
		atomic.StoreUint64(&m.rec.word, wordPoisoned)
		futex.WakeAll(m.futexWord())
		return nil
	}
	if atomic.SwapUint64(&m.rec.word, 0)&wordWaiters != 0 {
		atomic.StoreUint64(&m.rec.since, 0)
		wake(m.futexWord(), 1)
	}
	return nil
}

func (m *Mutex) tryLockSlow() (bool, error) {
	for {
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case w == 0:
			if atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me) {
				return true, m.acquiredSlow()
			}
			continue
		case w == wordPoisoned:
			return false, ErrNotRecoverable
		case ownerAlive(w, m.me):
			return false, nil
		}
		if atomic.CompareAndSwapUint64(&m.rec.word, w, m.me|wordWaiters) {
			return true, m.tookOver()
		}
	}
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	atomic.AddUint32(&m.rec.waiting, 1)
	defer atomic.AddUint32(&m.rec.waiting, ^uint32(0))

	// 1. The gate: one goroutine per process goes on.
	g := m.gate
	select {
	case g.ch <- struct{}{}:
	default:
		select {
		case g.ch <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-g.ch }()

	// 2. Spin.
	if spinFor := time.Duration(spinNanos.Load()); spinFor > 0 && m.spin(spinFor) {
		return m.acquiredSlow()
	}

	// 3. Sleep in bounded slices.
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	word := m.futexWord()
	slept := false
	for {
		w := atomic.LoadUint64(&m.rec.word)
		if w == 0 {
			nw := m.me
			if slept {
				nw |= wordWaiters
			}
			if atomic.CompareAndSwapUint64(&m.rec.word, 0, nw) {
				return m.acquiredSlow()
			}
			continue
		}
		if w == wordPoisoned {
			return ErrNotRecoverable
		}
		if w&wordWaiters == 0 {
			if !atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordWaiters) {
				continue
			}
			w |= wordWaiters
		}
		slept = true
		if !ownerAlive(w, m.me) {
			if atomic.CompareAndSwapUint64(&m.rec.word, w, m.me|wordWaiters) {
				return m.tookOver()
			}
			continue
		}
		m.stampIfUnstamped(w)
		deadline := time.Now().Add(time.Duration(pollNanos.Load()))
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if stop == nil && ctx.Done() != nil {
			// A cancel (not a deadline) would otherwise wait out a slice.
			stop = context.AfterFunc(ctx, func() { futex.WakeAll(word) })
		}
		futex.Wait(word, uint32(w), deadline) // woken, timed out or spurious: re-check
		if testHookAfterWait != nil {
			testHookAfterWait(m)
		}
		if err := ctx.Err(); err != nil {
			m.handBack()
			return err
		}
	}
}

// handBack is called by a waiter that gives up after it may have set the
// waiters bit or consumed a wake: see the protocol, step 3.
func (m *Mutex) handBack() {
	for {
		w := atomic.LoadUint64(&m.rec.word)
		switch {
		case w == 0:
			wake(m.futexWord(), 1)
			return
		case w&wordWaiters != 0 || w == wordPoisoned:
			return
		case atomic.CompareAndSwapUint64(&m.rec.word, w, w|wordWaiters):
			return
		}
	}
}

// spin waits up to d for the word to read 0 and takes it. It looks at the
// word 16 times in a row, then yields the CPU (sched_yield) and looks
// again: a holder that is running elsewhere is caught within a µs of its
// release, and one that waits for this CPU (two CPUs, more runnable
// threads) gets it, instead of waiting out a busy spin.
func (m *Mutex) spin(d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		for range 16 {
			if atomic.LoadUint64(&m.rec.word) == 0 && atomic.CompareAndSwapUint64(&m.rec.word, 0, m.me) {
				return true
			}
		}
		if time.Now().After(end) {
			return false
		}
		yield()
	}
}

// yield gives the CPU to another runnable thread, if any (sched_yield).
func yield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }

// wake is futex.Wake, replaceable by tests that count wake syscalls.
var wake = futex.Wake

// testHookAfterWait, when set, runs after every kernel sleep of a waiter.
var testHookAfterWait func(*Mutex)

// closed is the Mutex that Closed returns: a record in the Go heap whose
// word is poisoned for good.
var closed = func() *Mutex {
	rec := new(record)
	rec.word = wordPoisoned
	rec.state = stateNotRecoverable
	return &Mutex{rec: rec, me: selfWord(), gate: &gate{ch: make(chan struct{}, 1)}}
}()

// Closed returns a Mutex that can never be locked or unlocked (its word is
// poisoned): a handle that is closed swaps it in for its real Mutex, so
// that its fast paths fail and reach the slow path, which reports the
// closed handle, without a closed check of their own.
func Closed() *Mutex { return closed }
