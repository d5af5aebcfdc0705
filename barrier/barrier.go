package barrier

// Barrier protocol: Python's threading.Barrier (Lib/threading.py), made of
// a robust process-owned mutex and a sequence-word condition variable, both
// in the barrier's own segment.
//
// Shared state (layout below), all guarded by the mutex M except where said:
//
//	phase    filling → draining → filling …, or resetting / broken
//	count    parties inside Wait: arrived and not yet left (Python _count)
//	slots    slots[i] = identity (pid and tag, proc.ID) of the party that
//	         arrived i-th in the current cycle, 0 when free
//	seq      futex word, +1 on every change a sleeper must see (Python's
//	         notify_all); read without M by sleepers
//	sleepers goroutines that may sleep on seq: a notifier with none makes
//	         no syscall
//
// Wait, with M held throughout except while asleep:
//
//  1. Enter: sleep while the phase is draining or resetting (the previous
//     cycle's parties are still leaving). Broken: return ErrBroken.
//  2. Arrive: index := count; slots[index] := me; count++.
//  3. Last (index == parties-1): run the Action; on success phase :=
//     draining, cycles++, notify; on error or panic, break. Otherwise sleep
//     while the phase is filling.
//  4. Leave (always, Python's finally): slots[index] := 0; count--; if count
//     reaches 0 in draining or resetting, phase := filling and notify.
//     Return index if the phase was draining, else ErrBroken.
//
// Why no fast party laps a slow one: after a release the phase is draining
// until every released party has left (step 4), and arrivals for the next
// cycle sleep in step 1 meanwhile. A released party therefore always finds
// the phase its release set, never a new cycle's filling, and indices never
// collide in the slot table. The simpler Drepper barrier (last arrival
// resets the counter and bumps a generation, nobody re-takes M) loses this:
// a party still asleep when the next cycle starts cannot tell whether its
// own cycle completed or broke and was reset afterwards.
//
// Sleep is a condition-variable wait (technical.md §3.2): with M held read
// s := seq and add 1 to sleepers; unlock; wait until seq != s; relock;
// subtract 1. Any change is made under M and bumps seq before the waker
// unlocks, so a sleeper either sees the new seq before it sleeps (the
// kernel's compare) or is woken. The waker calls FUTEX_WAKE(all) after
// unlocking, so the woken do not pile up on M. The wait itself is the one
// core's (internal/wait): per process one sleeper at a time (the gate's
// holder) spins on seq, yielding its P when other parties of this process
// may need it, and then sleeps in the kernel in poll-interval slices; the
// others park in the Go scheduler, and every change of seq releases them
// all to look (LeaveChanged).
//
// Breaking: a waiter whose context or Timeout ends, Close, Abort, a failed
// Action, or a dead party set phase := broken and notify. Waiters then
// leave with ErrBroken; arrivals fail at once until Reset. Reset (Python's):
// with parties inside, phase := resetting (they leave with ErrBroken; the
// last to leave sets filling), else phase := filling.
//
// Death: between slices a sleeper reads the slot table and asks the kernel
// whether each other process in it is alive (proc.Alive: pidfd and start
// time, so a reused pid is not mistaken for the party). If one is dead it
// relocks, re-checks, frees the dead slots, recounts, and breaks the
// barrier (unless it is resetting or broken already) with ErrPartyDied.
// A process that dies holding M is found by the robust mutex: the next
// locker gets owner-dead with M held, frees dead slots, recounts, breaks
// the barrier, and marks M consistent. Either way the survivors get
// ErrBroken within about one slice instead of waiting for ever (Python's
// multiprocessing.Barrier waits for ever).
//
// Memory model: M orders everything. Writes a party makes before Wait are
// visible to the Action and, after Wait returns, to every party of that
// cycle, in every process.

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/identify"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// shared is the fixed part of a barrier's payload; parties 8-byte slots
// follow it. Offsets from the payload start (byte 128 of the file):
//
//	offset size field
//	     0   64 lock      robust mutex record M (internal/robust)
//	    64    4 seq       futex word; +1 (atomic add, under M) per change
//	    68    4 sleepers  goroutines that may sleep on seq (atomic, under M);
//	                      an upper bound: a killed sleeper never subtracts
//	    72    4 phase     phaseFilling … phaseBroken (under M, atomic stores)
//	    76    4 count     parties inside Wait (under M, atomic stores)
//	    80    4 parties   fixed at creation
//	    84    4 flags     flagAction: some process gave an Action (atomic or)
//	    88    8 cycles    cycles completed (under M, atomic stores)
//	    96    8 timeout   creator's default Timeout in ns, 0 for none
//	   104    4 reason    why the barrier broke (reason… values, under M)
//	   108    4 breaker   pid that broke it (or that died), 0 if unknown
//	   112   16 reserved, zero
//	   128  8×n slots     slot i: pid in the low 32 bits, its identity tag
//	                      (proc.ID.Tag) in the high 32; 0 = free (under M,
//	                      atomic; read without M by liveness scans)
type shared struct {
	lock     [robust.RecordSize]byte
	seq      uint32
	sleepers uint32
	phase    uint32
	count    uint32
	parties  uint32
	flags    uint32
	cycles   uint64
	timeout  int64
	reason   uint32
	breaker  uint32
	_        [16]byte
}

const sharedSize = int(unsafe.Sizeof(shared{}))

// Field offsets, for readers of plain bytes (Inspect, checkPayload).
const (
	offPhase   = int(unsafe.Offsetof(shared{}.phase))
	offCount   = int(unsafe.Offsetof(shared{}.count))
	offParties = int(unsafe.Offsetof(shared{}.parties))
	offCycles  = int(unsafe.Offsetof(shared{}.cycles))
	offTimeout = int(unsafe.Offsetof(shared{}.timeout))
	offReason  = int(unsafe.Offsetof(shared{}.reason))
	offBreaker = int(unsafe.Offsetof(shared{}.breaker))
)

var _ [128 - sharedSize]byte // compile-time size check
var _ [sharedSize - 128]byte

// Phases, Python's _state: 0 filling, 1 draining, -1 resetting, -2 broken.
// Values this library does not know (foreign bytes) read as broken.
const (
	phaseFilling   uint32 = 0 // parties arriving; count of them inside
	phaseDraining  uint32 = 1 // a cycle completed; its parties are leaving
	phaseResetting uint32 = 2 // Reset with parties inside; they leave broken
	phaseBroken    uint32 = 3 // every Wait fails with ErrBroken until Reset
)

// Reasons a barrier broke, kept for Wait's error and for tools.
const (
	reasonNone     uint32 = 0
	reasonAbort    uint32 = 1
	reasonTimeout  uint32 = 2 // a party's Timeout or context deadline
	reasonCanceled uint32 = 3 // a party's context was cancelled
	reasonClosed   uint32 = 4 // a party's Barrier was closed while it waited
	reasonAction   uint32 = 5 // the Action failed or panicked
	reasonNoAction uint32 = 6 // completed by a process without the Action
	reasonDied     uint32 = 7 // a party died inside Wait or holding M
	reasonReset    uint32 = 8 // Reset while parties waited
	reasonCorrupt  uint32 = 9 // impossible shared state was repaired
)

const flagAction uint32 = 1

// MaxParties is the largest number of parties a barrier can have: each
// party takes an 8-byte slot in the barrier's file.
const MaxParties = 1 << 16

// Spinning before a kernel sleep follows the core's rule; the barrier says
// when its peers are goroutines of this process (more than one party of
// this handle inside Wait), so that the spinner yields its P to them.
// Measured with BenchmarkBarrierCycle on a 2-CPU VM, cycle times (µs):
//
//	                    2 procs, spread   2 procs, same CPU   4 goroutines
//	no spin                  145                21                 62
//	spin, sched_yield          2.4               7.2              ~180
//	spin, Gosched always      13                36                 14
//	spin, as chosen            2.3               5.6               11

// A Barrier is Python's threading.Barrier (and multiprocessing.Barrier)
// across processes: a fixed number of parties call Wait, and none returns
// until all have arrived. It is reusable for any number of cycles. Its
// methods are safe for concurrent use by goroutines of any number of
// processes; each waiting goroutine counts as one party.
type Barrier struct {
	obj     *segment.Object
	sh      *shared
	slots   []uint64 // in the mapping
	mu      *robust.Mutex
	parties int
	action  func() error
	timeout time.Duration
	me      uint64     // our slot value
	gate    *wait.Gate // this process's gate for seq
	life    wait.Handle
	inside  atomic.Int32 // goroutines of this handle inside Wait
}

// barrierGates holds each barrier's gate in this process.
var barrierGates wait.Registry[wait.Gate]

// New creates a barrier for parties parties (at least 1, at most
// MaxParties) in its own segment. Without Name it gets a generated name
// ("mpgo_barrier_…"); other processes open it with Open(b.Name(), ...),
// passing their own Action if the barrier has one. It lives as the package
// documentation's Lifetime says.
func New(parties int, opts ...Option) (*Barrier, error) {
	o := collect(opts)
	if parties < 1 || parties > MaxParties {
		return nil, failf("New", fmt.Errorf("%w: parties %d: must be between 1 and %d", ErrInvalidArgument, parties, MaxParties))
	}
	if o.hasTimeout && o.timeout <= 0 {
		return nil, failf("New", fmt.Errorf("%w: Timeout(%v): must be positive", ErrInvalidArgument, o.timeout))
	}
	obj, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindBarrier, PayloadSize: sharedSize + 8*parties}, o.Options, func(p []byte) error {
		sh := (*shared)(unsafe.Pointer(&p[0]))
		sh.parties = uint32(parties)
		sh.timeout = int64(o.timeout)
		if o.action != nil {
			sh.flags = flagAction
		}
		return nil // the rest zero: unlocked, filling, empty slots
	})
	if err != nil {
		return nil, failf("New", err)
	}
	return attach(obj, o, fixed{parties: parties, timeout: o.timeout}), nil
}

// Open opens the barrier called name, made by New in any process. Give
// the same Action as the creator (functions do not cross processes); a
// Timeout here overrides the creator's for this handle. A missing name is
// an error wrapping fs.ErrNotExist; another kind of object,
// ErrKindMismatch; a damaged file or impossible sizes, ErrCorrupt.
func Open(name string, opts ...Option) (*Barrier, error) {
	b := new(Barrier)
	if err := b.open(name, collect(opts)); err != nil {
		return nil, failf("Open "+name, err)
	}
	return b, nil
}

// open makes b, a zero Barrier, a handle on the barrier name.
func (b *Barrier) open(name string, o options) error {
	if o.hasTimeout && o.timeout <= 0 {
		return fmt.Errorf("%w: Timeout(%v): must be positive", ErrInvalidArgument, o.timeout)
	}
	obj, err := identify.OpenObject(name, layout.KindBarrier, nil, o.Open())
	if err != nil {
		return err
	}
	// The payload is read, and the action flag written, under the file's
	// validation: a file truncated meanwhile fails the Open with
	// segment.ErrTruncated instead of faulting.
	var f fixed
	err = obj.Validate(func() (err error) {
		if f, err = validate(obj); err != nil {
			return err
		}
		if o.action != nil {
			sh := (*shared)(unsafe.Pointer(&obj.Payload[0]))
			atomic.OrUint32(&sh.flags, flagAction)
		}
		return nil
	})
	if err != nil {
		obj.Close()
		return &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	b.init(obj, o, f)
	return nil
}

// fixed holds the facts of a barrier that never change after creation,
// read once from the file and validated: a second read of shared bytes
// could find them changed by a foreign writer after the check.
type fixed struct {
	parties int
	timeout time.Duration
}

// validate checks the fixed facts of a barrier's payload, which foreign
// bytes could make lie: sizes, parties, timeout. Changing state (phase,
// count, slots) is checked where it is used.
func validate(obj *segment.Object) (fixed, error) {
	parties, err := checkPayload(obj.Payload)
	if err != nil {
		return fixed{}, err
	}
	// The timeout is read once more here and checked on the value kept.
	t := time.Duration(binary.LittleEndian.Uint64(obj.Payload[offTimeout:]))
	if t < 0 {
		return fixed{}, fmt.Errorf("%w: Barrier timeout %d ns", ErrCorrupt, t)
	}
	return fixed{parties: parties, timeout: t}, nil
}

// checkPayload validates a payload (see validate) and returns its parties.
func checkPayload(p []byte) (int, error) {
	n := uint64(len(p))
	if n < uint64(sharedSize) {
		return 0, fmt.Errorf("%w: Barrier payload of %d bytes, want at least %d", ErrCorrupt, n, sharedSize)
	}
	le := binary.LittleEndian
	parties := uint64(le.Uint32(p[offParties:]))
	if parties < 1 || parties > MaxParties {
		return 0, fmt.Errorf("%w: Barrier of %d parties (1 to %d possible)", ErrCorrupt, parties, MaxParties)
	}
	if need := uint64(sharedSize) + 8*parties; n < need {
		return 0, fmt.Errorf("%w: Barrier of %d parties needs %d payload bytes, has %d", ErrCorrupt, parties, need, n)
	}
	if t := int64(le.Uint64(p[offTimeout:])); t < 0 {
		return 0, fmt.Errorf("%w: Barrier timeout %d ns", ErrCorrupt, t)
	}
	return int(parties), nil
}

// attach builds the handle from facts already validated (never re-read
// from the shared bytes, which another process could have changed since).
func attach(obj *segment.Object, o options, f fixed) *Barrier {
	b := new(Barrier)
	b.init(obj, o, f)
	return b
}

// init makes b, a zero Barrier, the handle (see attach).
func (b *Barrier) init(obj *segment.Object, o options, f fixed) {
	p := unsafe.Pointer(&obj.Payload[0]) // page start + 128: 64-byte aligned
	b.obj, b.sh = obj, (*shared)(p)
	b.parties = f.parties
	b.slots = unsafe.Slice((*uint64)(unsafe.Add(p, sharedSize)), f.parties)
	b.action, b.timeout = o.action, f.timeout
	if o.hasTimeout {
		b.timeout = o.timeout
	}
	b.me = robust.SelfID()
	b.gate = barrierGates.Get(wait.Key{Dev: obj.Dev, Ino: obj.Ino})
	b.life.Init()
	b.mu = robust.Attach(obj.File, layout.HeaderSize, &b.life)
}

// Name returns the barrier's name, for Open in another process.
func (b *Barrier) Name() string { return b.obj.Name }

// Parties returns the number of parties needed to complete a cycle.
func (b *Barrier) Parties() int { return b.parties }

// Close unmaps the barrier in this process. Waits in progress in this
// process end with ErrBroken wrapping ErrClosed, and the barrier breaks for
// the other parties, as if their contexts had been cancelled. The creator's
// Close of a barrier made without a Name removes its name (see Lifetime).
// Close is idempotent.
func (b *Barrier) Close() error {
	if !b.life.Close(b.kick) {
		return nil
	}
	return b.fail("Close", b.obj.Close())
}

// Unlink removes the barrier's name so no other process can open it;
// handles already open keep working until closed.
func (b *Barrier) Unlink() error { return b.fail("Unlink", b.obj.Unlink()) }

// fail is the error of op on b: "barrier: op on Barrier NAME: err".
func (b *Barrier) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" on Barrier "+b.obj.Name, err)
}
