package sem

// Event protocol (technical.md §3.3: "Event on a flag word")
//
// An Event is two 32-bit words in its segment's payload:
//
//	word      (generation << 1) | flag — the futex word every waiter sleeps on
//	sleepers  how many goroutines, in all processes, may be asleep on word
//
// Set:   CAS word from (g<<1|0) to ((g+1)<<1|1): raise the flag and start a
//        new generation in one step. Only a Set that changed the word looks
//        at sleepers, and only a non-zero sleepers costs a FUTEX_WAKE(all).
//        A Set on a set Event changes nothing and makes no syscall.
// Clear: CAS word from (g<<1|1) to (g<<1|0). Nobody waits for a Clear, so
//        it never wakes anyone.
// Wait:  load w. Flag set: return at once (the fast path, one load). Else
//        add 1 to sleepers, then loop: reload the word; return when the flag
//        is set or the generation differs from w's; otherwise
//        FUTEX_WAIT(word, current value) for a bounded slice. Subtract the 1
//        on every way out.
//
// Why no wake-up is lost: the waiter's "add sleepers, then load word" and
// the setter's "CAS word, then load sleepers" are sequentially consistent
// atomics (Go's sync/atomic, LOCK-prefixed or LDADDAL/LDAR instructions in
// every process), so at least one side sees the other: either the setter
// sees sleepers > 0 and wakes, or the waiter's load already shows the new
// word and it never sleeps. The kernel's compare of the futex word closes
// the window between that load and the sleep.
//
// Why a Set→Clear pulse is never missed: the waiter compares generations,
// not just the flag. A waiter that slept through Set and Clear wakes to a
// word whose flag is down again but whose generation moved on, and returns
// (Python's threading.Event.wait returns True in that case too). A plain
// 0/1 flag would lose the pulse.
//
// Limits, accepted and bounded:
//   - sleepers only ever over-counts: a waiter SIGKILLed in its sleep never
//     subtracts its 1, so later Sets make one useless FUTEX_WAKE each (glibc's
//     sem_t nwaiters has the same property). Nothing blocks because of it.
//   - the generation has 31 bits: a waiter that sleeps through exactly 2^31
//     Sets misses a pulse (the ABA case). Waits are cut into bounded slices,
//     so even then the waiter only keeps waiting for the next Set.
//
// Waiting follows the one core (internal/wait): per process, one waiting
// goroutine at a time (the gate's holder) spins, then sleeps in the
// kernel; the others park in the Go scheduler, so a thousand waiting
// goroutines hold one OS thread, not a thousand. Every change of the word
// from a clear state is a Set, which sends the holder away with
// LeaveChanged: the parked goroutines compare the word with the value each
// saw on entry.
//
// Memory model: a Set in any process happens before every Wait that returns
// because of it, in any process; writes made before Set are visible after
// such a Wait returns.

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// eventShared is the Event's payload (byte 128 of the file onwards), one
// cache line. All access is atomic.
//
//	offset size field
//	     0    4 word      bit 0: eventFlag, set by Set, cleared by Clear
//	                      bits 31..1: generation, +1 on every Set that raises
//	                      the flag; wraps. Changed by anyone, by CAS only.
//	     4    4 sleepers  goroutines that may sleep on word; +1/-1 by waiters
//	                      (atomic add), read by Set. An upper bound (see top).
//	     8   56 reserved, zero
type eventShared struct {
	word     uint32
	sleepers uint32
	_        [56]byte
}

const (
	eventFlag    uint32 = 1 // the flag bit of word
	eventGenStep uint32 = 2 // one generation
	eventSize           = int(unsafe.Sizeof(eventShared{}))
)

var _ [64 - eventSize]byte // compile-time size check: exactly one cache line
var _ [eventSize - 64]byte

// An Event is Python's multiprocessing.Event across processes: a flag that
// Set raises and Clear lowers, and that Wait waits for. Its methods are safe
// for concurrent use by goroutines of any number of processes.
type Event struct {
	obj      *segment.Object
	word     *uint32
	sleepers *uint32
	gate     *wait.Gate // this process's gate for the word
	life     wait.Handle
}

// testHookEventWake, when set, runs before each FUTEX_WAKE a Set makes.
var testHookEventWake func()

// NewEvent creates an Event, initially clear, in its own segment. Without
// Name it gets a generated name ("mpgo_event_…"); other processes open it
// with OpenEvent(e.Name()). It lives as the package documentation's
// Lifetime says.
func NewEvent(opts ...Option) (*Event, error) {
	o := collect(opts)
	obj, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindEvent, PayloadSize: eventSize}, o.Options, nil) // all zero: clear, generation 0, no sleepers
	if err != nil {
		return nil, failf("NewEvent", err)
	}
	return newEvent(obj), nil
}

// OpenEvent opens the Event called name, made by NewEvent in any process.
// A missing name is an error wrapping fs.ErrNotExist; another kind of
// object, ErrKindMismatch; a damaged file, ErrCorrupt.
func OpenEvent(name string, opts ...Option) (*Event, error) {
	o := collect(opts)
	obj, err := openObject(name, layout.KindEvent, eventSize, o, nil)
	if err != nil {
		return nil, failf("OpenEvent "+name, err)
	}
	return newEvent(obj), nil
}

func newEvent(obj *segment.Object) *Event {
	e := new(Event)
	e.init(obj)
	return e
}

// init makes e, a zero Event, the handle on obj.
func (e *Event) init(obj *segment.Object) {
	sh := (*eventShared)(unsafe.Pointer(&obj.Payload[0])) // page start + 128: aligned
	e.obj, e.word, e.sleepers = obj, &sh.word, &sh.sleepers
	e.gate = eventGates.Get(wait.Key{Dev: obj.Dev, Ino: obj.Ino})
	e.life.Init()
}

// eventGates holds each Event's gate in this process.
var eventGates wait.Registry[wait.Gate]

// Name returns the Event's name, for OpenEvent in another process.
func (e *Event) Name() string { return e.obj.Name }

// IsSet reports whether the flag is set. It returns false after Close.
func (e *Event) IsSet() bool {
	set := !e.life.Closed() && atomic.LoadUint32(e.word)&eventFlag != 0
	runtime.KeepAlive(e)
	return set
}

// Set raises the flag and wakes every waiter in every process. Setting a
// set Event does nothing. It returns ErrClosed after Close.
func (e *Event) Set() error {
	if e.life.Closed() {
		return e.errClosed("Set")
	}
	defer runtime.KeepAlive(e)
	for {
		w := atomic.LoadUint32(e.word)
		if w&eventFlag != 0 {
			return nil
		}
		if atomic.CompareAndSwapUint32(e.word, w, (w+eventGenStep)|eventFlag) {
			break
		}
	}
	if atomic.LoadUint32(e.sleepers) != 0 {
		if testHookEventWake != nil {
			testHookEventWake()
		}
		futex.WakeAll(e.word)
	}
	return nil
}

// Clear lowers the flag; later Waits block until the next Set. Waiters
// that were asleep through a Set followed by a Clear still return. It
// returns ErrClosed after Close.
func (e *Event) Clear() error {
	if e.life.Closed() {
		return e.errClosed("Clear")
	}
	defer runtime.KeepAlive(e)
	for {
		w := atomic.LoadUint32(e.word)
		if w&eventFlag == 0 || atomic.CompareAndSwapUint32(e.word, w, w&^eventFlag) {
			return nil
		}
	}
}

// Wait blocks until the flag is set, or was set while Wait was blocked
// (even if it has been cleared again since), and returns nil. If ctx ends
// first it returns ctx.Err() and the Event is unchanged; after Close it
// returns ErrClosed. A set Event returns at once, without a syscall.
func (e *Event) Wait(ctx context.Context) error {
	if e.life.Closed() {
		return e.errClosed("Wait")
	}
	w := atomic.LoadUint32(e.word)
	if w&eventFlag != 0 {
		runtime.KeepAlive(e)
		return nil
	}
	return e.waitSlow(ctx, w)
}

// passed reports whether the Event has been set since a Wait saw w0 (clear).
func (e *Event) passed(w0 uint32) bool {
	w := atomic.LoadUint32(e.word)
	return w&eventFlag != 0 || w&^eventFlag != w0
}

func (e *Event) waitSlow(ctx context.Context, w0 uint32) error {
	defer runtime.KeepAlive(e)
	if err := ctx.Err(); err != nil {
		return err
	}
	held, err := e.gate.Enter(ctx, &e.life, func() bool { return e.passed(w0) })
	if !held {
		if err == nil || e.passed(w0) {
			return nil
		}
		return e.waitErr(err)
	}
	// Any way out changes nothing for the others but a Set, and a Set is
	// what they wait for too: let them all look.
	defer e.gate.LeaveChanged()
	if wait.SpinUntil(func() bool { return e.passed(w0) }) {
		return nil
	}
	atomic.AddUint32(e.sleepers, 1)
	defer atomic.AddUint32(e.sleepers, ^uint32(0))
	sl := wait.NewSleeper(ctx, e.word, e, &e.life)
	defer sl.Stop()
	for {
		w := atomic.LoadUint32(e.word)
		if w&eventFlag != 0 || w&^eventFlag != w0 {
			return nil
		}
		if _, err := sl.Sleep(w); err != nil {
			if e.passed(w0) {
				return nil
			}
			return e.waitErr(err)
		}
	}
}

// waitErr names the Event in a wait's error; ctx errors stay as they are.
func (e *Event) waitErr(err error) error {
	if err == wait.ErrClosed {
		return e.errClosed("Wait")
	}
	return e.fail("Wait", err)
}

func (e *Event) errClosed(op string) error { return e.fail(op, ErrClosed) }

// fail is the error of op on e: "sem: op on Event NAME: err".
func (e *Event) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" on Event "+e.obj.Name, err)
}

// EventState is a snapshot of an Event, for tools such as
// `multiproc inspect`.
type EventState struct {
	Set bool
	// Sleepers counts the processes (one goroutine per Event handle) asleep
	// in Wait. It is an upper bound: a waiter killed in its sleep stays
	// counted.
	Sleepers int
}

// State returns a snapshot of the Event. After Close it is the zero
// EventState.
func (e *Event) State() EventState {
	if e.life.Closed() {
		return EventState{}
	}
	defer runtime.KeepAlive(e)
	return EventState{
		Set:      atomic.LoadUint32(e.word)&eventFlag != 0,
		Sleepers: int(atomic.LoadUint32(e.sleepers)),
	}
}

// InspectEvent reads an Event's state from the bytes of its file, header
// included, without opening it for use (OpenEvent holds the file's
// liveness lock) and without writing. The bytes may be a copy
// (os.ReadFile) or a read-only mapping. A file that is not an Event gives
// an error wrapping ErrCorrupt or ErrKindMismatch, never a panic.
func InspectEvent(file []byte) (EventState, error) {
	h, err := layout.Decode(file)
	if err == nil {
		err = h.Expect("file", layout.KindEvent)
	}
	if err != nil {
		return EventState{}, err
	}
	if h.PayloadSize < uint64(eventSize) {
		return EventState{}, fmt.Errorf("%w: Event payload of %d bytes, want %d", ErrCorrupt, h.PayloadSize, eventSize)
	}
	p := file[layout.HeaderSize:]
	return EventState{
		Set:      binary.LittleEndian.Uint32(p[0:])&eventFlag != 0,
		Sleepers: int(binary.LittleEndian.Uint32(p[4:])),
	}, nil
}

// Close unmaps the Event in this process. Waits in progress in this process
// return ErrClosed; waiters in other processes are not affected. The
// creator's Close of an Event made without a Name removes its name (see
// Lifetime). Close is idempotent.
func (e *Event) Close() error {
	// Our own sleeper, if any, wakes, sees the close and leaves.
	if !e.life.Close(func() { futex.WakeAll(e.word) }) {
		return nil
	}
	return e.fail("Close", e.obj.Close())
}

// Unlink removes the Event's name so no other process can open it; handles
// already open keep working until closed.
func (e *Event) Unlink() error { return e.fail("Unlink", e.obj.Unlink()) }
