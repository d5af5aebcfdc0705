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
// Before it sleeps, the waiter watches the word for a few tens of
// microseconds (yielding the CPU as it goes), so a quick answer is caught
// without the cost of a kernel sleep and wake-up.
//
// Per Event handle, one waiting goroutine at a time (the gate's holder)
// spins and sleeps in the kernel; the others park in the Go scheduler, so a
// thousand waiting goroutines hold one OS thread, not a thousand. Every
// change of the word from a clear state is a Set, which sends the holder
// away; each holder's leave wakes the parked goroutines, which compare the
// word with the value each saw on entry (see handle.Gate for why they take
// the wake-up channel before they look).
//
// Memory model: a Set in any process happens before every Wait that returns
// because of it, in any process; writes made before Set are visible after
// such a Wait returns.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/handle"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"golang.org/x/sys/unix"
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
	eventSlice          = 250 * time.Millisecond // longest kernel sleep between checks
)

var _ [64 - eventSize]byte // compile-time size check: exactly one cache line
var _ [eventSize - 64]byte

// Spinning before sleeping, measured by BenchmarkEventPingPong on a 2-CPU
// VM: a round trip between processes on different CPUs fell from ~40µs to
// ~0.3µs with a 50µs spin, and, thanks to the yields, from ~7µs to ~3.5µs
// with both on one CPU. A waiter burns at most eventSpin of CPU per Wait.
var (
	eventSpin      = 50 * time.Microsecond // 0 disables spinning
	eventSpinYield = 128                   // sched_yield after this many looks
)

// An Event is Python's multiprocessing.Event across processes: a flag that
// Set raises and Clear lowers, and that Wait waits for. Its methods are safe
// for concurrent use by goroutines of any number of processes.
type Event struct {
	obj      *segment.Object
	word     *uint32
	sleepers *uint32
	gate     handle.Gate // who of this handle's waiters sleeps in the kernel
	use      handle.Guard
}

// testHookEventWake, when set, runs before each FUTEX_WAKE a Set makes.
var testHookEventWake func()

// NewEvent creates an Event, initially clear, in its own segment. Without
// Name it gets a generated name ("mpgo_event_…"); other processes open it
// with OpenEvent(e.Name()). Unless Persistent, the resource tracker removes
// it once every process of the program is gone.
func NewEvent(opts ...Option) (*Event, error) {
	o := collect(opts)
	obj, err := segment.CreateObject(o.name, segment.ObjectSpec{
		Kind:        layout.KindEvent,
		PayloadSize: eventSize,
		Persistent:  o.persistent,
		Mode:        o.mode,
	}, nil) // all zero: clear, generation 0, no sleepers
	if err != nil {
		return nil, err
	}
	return newEvent(obj), nil
}

// OpenEvent opens the Event called name, made by NewEvent in any process.
// A missing name is an error wrapping fs.ErrNotExist; another kind of
// object, ErrKindMismatch; a damaged file, ErrCorrupt.
func OpenEvent(name string, opts ...Option) (*Event, error) {
	o := collect(opts)
	obj, err := segment.OpenObject(name, layout.KindEvent, nil, segment.OpenOptions{AllowForeignOwner: o.allowForeign})
	if err != nil {
		return nil, err
	}
	if obj.Header.PayloadSize < uint64(eventSize) {
		obj.Close()
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: Event payload of %d bytes, want %d", ErrCorrupt, obj.Header.PayloadSize, eventSize)}
	}
	return newEvent(obj), nil
}

func newEvent(obj *segment.Object) *Event {
	sh := (*eventShared)(unsafe.Pointer(&obj.Payload[0])) // page start + 128: aligned
	return &Event{
		obj:      obj,
		word:     &sh.word,
		sleepers: &sh.sleepers,
		use:      handle.NewGuard(),
	}
}

// Name returns the Event's name, for OpenEvent in another process.
func (e *Event) Name() string { return e.obj.Name }

// IsSet reports whether the flag is set. It returns false after Close.
func (e *Event) IsSet() bool {
	if !e.use.Enter() {
		return false
	}
	set := atomic.LoadUint32(e.word)&eventFlag != 0
	e.use.Exit()
	return set
}

// Set raises the flag and wakes every waiter in every process. Setting a
// set Event does nothing. It returns ErrClosed after Close.
func (e *Event) Set() error {
	if !e.use.Enter() {
		return ErrClosed
	}
	defer e.use.Exit()
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
	if !e.use.Enter() {
		return ErrClosed
	}
	defer e.use.Exit()
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
	if !e.use.Enter() {
		return ErrClosed
	}
	w := atomic.LoadUint32(e.word)
	if w&eventFlag != 0 {
		e.use.Exit()
		return nil
	}
	defer e.use.Exit()
	return e.waitSlow(ctx, w)
}

// passed reports whether the Event has been set since a Wait saw w0 (clear).
func (e *Event) passed(w0 uint32) bool {
	w := atomic.LoadUint32(e.word)
	return w&eventFlag != 0 || w&^eventFlag != w0
}

func (e *Event) waitSlow(ctx context.Context, w0 uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Through the gate: at most one goroutine of this handle sleeps in the
	// kernel; the others park here until a holder leaves, then re-check.
	for {
		left := e.gate.Take()
		if left == nil {
			break
		}
		if e.passed(w0) {
			return nil
		}
		select {
		case <-left:
		case <-ctx.Done():
			if e.passed(w0) {
				return nil
			}
			return ctx.Err()
		case <-e.use.Closing():
			return ErrClosed
		}
	}
	defer e.gate.Leave()
	if e.spin(w0) {
		return nil
	}

	atomic.AddUint32(e.sleepers, 1)
	defer atomic.AddUint32(e.sleepers, ^uint32(0))
	// A cancelled ctx kicks the sleeper out of the kernel at once, instead
	// of at the end of its slice. The kick repeats until the sleeper has
	// left, because one wake can land just before it enters the kernel.
	// Kicks wake other processes' sleepers too; they re-check and sleep on.
	var left atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		for i := 0; i < 100 && !left.Load(); i++ {
			e.kick()
			time.Sleep(time.Millisecond)
		}
	})
	defer func() { left.Store(true); stop() }()

	deadline, hasDeadline := ctx.Deadline()
	for {
		w := atomic.LoadUint32(e.word)
		if w&eventFlag != 0 || w&^eventFlag != w0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.use.Closed() {
			return ErrClosed
		}
		until := time.Now().Add(eventSlice)
		if hasDeadline && deadline.Before(until) {
			until = deadline
		}
		if err := futex.Wait(e.word, w, until); err != nil && err != futex.ErrTimeout {
			return fmt.Errorf("sem: event %s: %w", e.obj.Name, err)
		}
	}
}

// spin watches the word for up to eventSpin before the caller sleeps, and
// reports whether the Event was set meanwhile. Waking a sleeping process on
// an idle CPU costs tens of microseconds; a setter that answers within the
// spin hands over in well under one. The spin yields the CPU every
// eventSpinYield looks, so a setter waiting for this very CPU runs at once
// instead of after our time slice (see bench/event_test.go for both
// placements).
func (e *Event) spin(w0 uint32) bool {
	if eventSpin <= 0 || runtime.GOMAXPROCS(0) < 2 {
		return false // on one P, spinning only delays a setter in this process
	}
	start := time.Now()
	for i := 1; ; i++ {
		if e.passed(w0) {
			return true
		}
		if i%eventSpinYield == 0 {
			if time.Since(start) > eventSpin {
				return false
			}
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// kick wakes the kernel sleepers of this Event so they re-check ctx and
// Close. It is safe to call at any time, even during or after Close.
func (e *Event) kick() {
	if e.use.Enter() {
		futex.WakeAll(e.word)
		e.use.Exit()
	}
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
	if !e.use.Enter() {
		return EventState{}
	}
	defer e.use.Exit()
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
// return ErrClosed; the Event itself, and waiters in other processes, are
// not affected. Close is idempotent.
func (e *Event) Close() error {
	if !e.use.Close() {
		return nil
	}
	// Our own sleeper, if any, wakes, sees the close and leaves.
	e.use.Wait(func() { futex.WakeAll(e.word) })
	return e.obj.Close()
}

// Unlink removes the Event's name so no other process can open it; handles
// already open keep working until closed.
func (e *Event) Unlink() error { return e.obj.Remove() }
