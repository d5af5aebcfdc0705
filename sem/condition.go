package sem

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// condLayout is the fixed part of a Condition file's payload; condSlots
// waiter slots (condSlot) follow it.
//
//	offset size field
//	     0   64 own       own RLock record (used when flavor is condOwnRLock)
//	    64    4 waiters   goroutines, in all processes, between registering
//	                      in Wait and leaving it: the sum of the slots'
//	                      waiting counts (atomic add)
//	    68    4 cursor    slot where the next Notify starts (round robin)
//	    72    4 flavor    condOwnRLock, condLock or condRLock
//	    76    4 lockKind  kind of the object holding an outside lock
//	    80    8 lockOff   byte offset of its lock record in that file
//	    88    4 nameLen   length of the outside lock's object name
//	    92    4 slots     number of waiter slots, fixed at creation
//	    96  256 name      the outside lock's object name
//	   352    4 used      slots ever claimed, a bound for scans (atomic max)
//	   356   28 (reserved, zero)
//	   384 32×n slots     the waiter slots (condition_wait.go)
type condLayout struct {
	own      [robust.RecordSize]byte
	waiters  uint32
	cursor   uint32
	flavor   uint32
	lockKind uint32
	lockOff  uint64
	nameLen  uint32
	slots    uint32
	name     [256]byte
	used     uint32
	_        [28]byte
}

const condFixed = 384

// condSlots is how many processes can wait on one Condition at once.
const condSlots = 128

const condPayload = condFixed + condSlots*condSlotSize

var _ [condFixed - unsafe.Sizeof(condLayout{})]byte
var _ [unsafe.Sizeof(condLayout{}) - condFixed]byte

// Flavors: which lock a Condition uses.
const (
	condOwnRLock = 1 // its own RLock, in its own file
	condLock     = 2 // an outside *Lock
	condRLock    = 3 // an outside *RLock
)

// A Condition is a condition variable shared by processes: Python's
// multiprocessing.Condition. Goroutines in any process that holds the
// Condition open wait on it with the lock held, and are woken by Notify or
// NotifyAll from any process.
//
// Notify(n) wakes at most n waiters — exactly min(n, waiting) of them,
// across processes, however many were cancelled or killed while waiting —
// as Python's notify(n) does. Waiters must still re-check their condition
// after Wait returns (WaitFor does): another goroutine may have changed it
// again before the woken one got the lock back. Change the predicate with
// the lock held, and call Notify and NotifyAll with it held too, as Python
// requires; a predicate changed without the lock can be missed by a waiter
// that checked it just before, and that waiter then sleeps until the next
// Notify.
//
// Goroutines of one process waiting on one Condition share one OS thread
// asleep in the kernel; the others park in the Go scheduler. At most 128
// processes can wait on one Condition at the same time (dead processes'
// places are reclaimed).
type Condition struct {
	obj       *segment.Object
	c         *condLayout
	slots     []condSlot // in the mapping, len fixed at open
	l         condLocker
	loc       *condLocal   // this process's slot and gate
	ownsLock  bool         // l is its own RLock or was opened by OpenCondition
	closeLock func() error // closes the file of a lock OpenCondition opened
	life      wait.Handle
	me        uint64 // our identity word: pid | tag<<32
}

// condLocker is what a Condition needs from its lock: *Lock or *RLock.
type condLocker interface {
	sync.Locker
	LockContext(ctx context.Context) error
	handle() *lockHandle
	// held reports whether the caller holds the lock (the calling
	// process for a Lock, the calling goroutine for an RLock).
	held() bool
	// release frees the lock, which the caller must hold, entirely, and
	// returns what reacquire needs to restore the hold.
	release() (depth int64, err error)
	// reacquire takes the lock back (without a deadline) at depth.
	reacquire(depth int64) error
}

func (l *Lock) handle() *lockHandle { return &l.h }

func (l *Lock) held() bool { return !l.h.closed() && l.h.m().HeldByUs() }

func (l *Lock) release() (int64, error) {
	if err := l.h.checkOpen("Wait"); err != nil {
		return 0, err
	}
	if err := l.h.m().Unlock(); err != nil {
		return 0, l.h.unlockError("Wait", err)
	}
	return 1, nil
}

func (l *Lock) reacquire(int64) error {
	return l.h.fail("Wait", l.h.m().Lock(context.Background()))
}

func (r *RLock) handle() *lockHandle { return &r.h }

func (r *RLock) held() bool { return !r.h.closed() && r.owned() }

func (r *RLock) release() (int64, error) {
	if err := r.h.checkOpen("Wait"); err != nil {
		return 0, err
	}
	if !r.owned() {
		return 0, r.h.unlockError("Wait", robust.ErrNotOwner)
	}
	depth := r.loc.Depth
	return depth, r.releaseAll("Wait")
}

func (r *RLock) reacquire(depth int64) error {
	err := r.h.m().Lock(context.Background())
	if err == nil || err == robust.ErrOwnerDead {
		r.took()
		r.loc.Depth = depth
	}
	return r.h.fail("Wait", err)
}

// NewCondition creates a Condition on lock, a *Lock or an *RLock (Python's
// Condition(lock)); with a nil lock the Condition makes its own RLock, kept
// in its own file. The Condition records which lock it uses, so that
// OpenCondition in another process opens both. Closing the Condition does
// not close a lock passed in.
func NewCondition(lock sync.Locker, opts ...Option) (*Condition, error) {
	var l condLocker
	switch lk := lock.(type) {
	case nil:
	case *Lock:
		if lk != nil {
			l = lk
		}
	case *RLock:
		if lk != nil {
			l = lk
		}
	default:
		return nil, failf("NewCondition", fmt.Errorf("%w: a lock of type %T; want *sem.Lock, *sem.RLock or nil", ErrInvalidArgument, lock))
	}
	if l != nil {
		if err := l.handle().checkOpen("NewCondition on"); err != nil {
			return nil, err
		}
	}
	obj, err := createLockObject(layout.KindCondition, condPayload, collect(opts), func(p []byte) error {
		c := (*condLayout)(unsafe.Pointer(&p[0]))
		c.slots = condSlots
		switch l.(type) {
		case nil:
			c.flavor = condOwnRLock
			return nil
		case *Lock:
			c.flavor = condLock
		case *RLock:
			c.flavor = condRLock
		}
		h := l.handle()
		c.lockKind, c.lockOff = uint32(h.kind), uint64(h.off)
		c.nameLen = uint32(copy(c.name[:], h.name))
		return nil
	})
	if err != nil {
		return nil, failf("NewCondition", err)
	}
	c := newCondition(obj, condSlots)
	if l == nil {
		l = newRLock(func(h *lockHandle) { h.initBorrowed("RLock", obj.File, layout.KindCondition, layout.HeaderSize) })
		c.ownsLock = true
	}
	c.l = l
	return c, nil
}

// newCondition makes the handle on obj, whose payload holds nslots slots
// (validated).
func newCondition(obj *segment.Object, nslots int) *Condition {
	c := new(Condition)
	c.init(obj, nslots)
	return c
}

// init makes c, a zero Condition, the handle on obj (its lock aside).
func (c *Condition) init(obj *segment.Object, nslots int) {
	p := unsafe.Pointer(&obj.Payload[0]) // page start + 128: 64-byte aligned
	c.obj, c.c = obj, (*condLayout)(p)
	c.slots = unsafe.Slice((*condSlot)(unsafe.Add(p, condFixed)), nslots)
	c.loc = condLocals.Get(wait.Key{Dev: obj.Dev, Ino: obj.Ino})
	c.me = selfIdentity()
	c.life.Init()
}

// OpenCondition opens the Condition called name and the lock it uses. A
// missing name is an error wrapping fs.ErrNotExist; another kind of object
// wraps ErrKindMismatch; a damaged file, or one naming an impossible lock,
// wraps ErrCorrupt.
func OpenCondition(name string, opts ...Option) (*Condition, error) {
	c := new(Condition)
	if err := c.open(name, collect(opts)); err != nil {
		return nil, failf("OpenCondition "+name, err)
	}
	return c, nil
}

// open makes c, a zero Condition, a handle on the Condition name and its
// lock.
func (c *Condition) open(name string, o options) error {
	// The slot count and the lock's description are read once, under the
	// file's validation, and checked on the copies; the handle keeps these
	// values, never a second read (foreign bytes).
	var n uint32
	var ref condLockRef
	obj, err := openObject(name, layout.KindCondition, condFixed, o, func(obj *segment.Object) error {
		cl := (*condLayout)(unsafe.Pointer(&obj.Payload[0]))
		n = atomic.LoadUint32(&cl.slots)
		if n == 0 || n > 1<<16 || uint64(len(obj.Payload)) < condFixed+uint64(n)*uint64(condSlotSize) {
			return &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: Condition of %d waiter slots in a %d-byte payload", ErrCorrupt, n, len(obj.Payload))}
		}
		ref = condLockRef{flavor: atomic.LoadUint32(&cl.flavor), kind: layout.Kind(cl.lockKind), off: cl.lockOff, nameLen: cl.nameLen, name: cl.name}
		return nil
	})
	if err != nil {
		return err
	}
	c.init(obj, int(n))
	c.ownsLock = true
	if err := c.openLock(ref, o); err != nil {
		obj.Close()
		return err
	}
	return nil
}

// condLockRef is what a Condition's file says of its lock: a copy of the
// shared fields, taken once.
type condLockRef struct {
	flavor  uint32
	kind    layout.Kind
	off     uint64
	nameLen uint32
	name    [256]byte
}

// openLock opens the lock ref, read from the condition's file, describes,
// validating every byte of it.
func (c *Condition) openLock(ref condLockRef, o options) error {
	corrupt := func(format string, args ...any) error {
		return &fs.PathError{Op: "open", Path: c.obj.Path(), Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
	}
	flavor := ref.flavor
	if flavor == condOwnRLock {
		c.l = newRLock(func(h *lockHandle) { h.initBorrowed("RLock", c.obj.File, layout.KindCondition, layout.HeaderSize) })
		return nil
	}
	if flavor != condLock && flavor != condRLock {
		return corrupt("condition lock flavor %d", flavor)
	}
	kind, off, n := ref.kind, ref.off, ref.nameLen
	if n == 0 || n > uint32(len(ref.name)) {
		return corrupt("lock name length %d", n)
	}
	lockName := string(ref.name[:n])
	if _, err := segment.CleanName(lockName, ""); err != nil {
		return corrupt("lock name: %v", err)
	}
	switch {
	case !kind.Valid() || kind == layout.KindRaw || kind == layout.KindCondition:
		return corrupt("lock in an object of kind %s", kind)
	case kind == layout.KindLock && flavor != condLock, kind == layout.KindRLock && flavor != condRLock:
		return corrupt("a %s used as the other kind of lock", kind)
	case off < layout.HeaderSize || off%8 != 0 || off > 1<<40:
		return corrupt("lock record at offset %d", off)
	}
	lobj, err := segment.OpenObject(lockName, kind, nil, o.Open())
	if err != nil {
		return fmt.Errorf("opening its lock: %w", err)
	}
	if off+robust.RecordSize > uint64(lobj.Size()) {
		lobj.Close()
		return corrupt("lock record at offset %d outside the %d-byte %s %s", off, lobj.Size(), kind, lockName)
	}
	init := func(h *lockHandle) {
		what := "Lock"
		if flavor == condRLock {
			what = "RLock"
		}
		h.initBorrowed(what, lobj.File, kind, int(off))
		if kind == layout.KindLock || kind == layout.KindRLock {
			h.obj = lobj // its own object: Unlink works on it
		}
	}
	if flavor == condLock {
		l := new(Lock)
		init(&l.h)
		c.l = l
	} else {
		c.l = newRLock(init)
	}
	c.closeLock = lobj.Close
	return nil
}

// Lock locks the Condition's lock (see Lock.Lock and RLock.Lock).
func (c *Condition) Lock() { c.l.Lock() }

// Unlock unlocks the Condition's lock.
func (c *Condition) Unlock() { c.l.Unlock() }

// LockContext locks the Condition's lock, waiting at most until ctx ends
// (see Lock.LockContext).
func (c *Condition) LockContext(ctx context.Context) error { return c.l.LockContext(ctx) }

// Locker returns the Condition's lock: the *Lock or *RLock it was made
// with, or its own *RLock.
func (c *Condition) Locker() sync.Locker { return c.l }

// Name returns the name other processes pass to OpenCondition.
func (c *Condition) Name() string { return c.obj.Name }

// Close releases this process's handle on c, and on the lock if
// OpenCondition opened it (a lock passed to NewCondition stays open). Waits
// in progress on c return ErrClosed (without the lock, if it was c's own),
// and Close returns once they have. The creator's Close of a Condition made
// without a Name removes its name (see Lifetime). Close is idempotent;
// afterwards Wait returns ErrClosed and Notify does nothing.
func (c *Condition) Close() error {
	if !c.life.Close(c.kick) {
		return nil
	}
	var err error
	if c.ownsLock {
		c.l.handle().close() // its handle now refuses use
	}
	if c.closeLock != nil {
		err = c.closeLock()
	}
	if cerr := c.obj.Close(); err == nil {
		err = cerr
	}
	return c.fail("Close", err)
}

// Unlink removes c's name (its own RLock goes with it; a lock passed to
// NewCondition does not). Processes that have it open keep using it.
func (c *Condition) Unlink() error { return c.fail("Unlink", c.obj.Unlink()) }

// fail is the error of op on c: "sem: op on Condition NAME: err".
func (c *Condition) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" on Condition "+c.obj.Name, err)
}
