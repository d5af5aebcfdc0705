package sem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/multiproc/multiproc/internal/identify"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// lockHandle is what Lock and RLock share: one process's handle on a robust
// lock record, either the payload of its own object file (NewLock,
// OpenLock, ...) or a record borrowed from another object's file (a Value's
// lock, see internal/semlink).
type lockHandle struct {
	what string        // "Lock" or "RLock", for messages
	name string        // object name, for messages and Conditions
	kind layout.Kind   // kind of the object file holding the record
	off  int           // byte offset of the record in that file
	file *segment.File // the mapped file
	obj  *segment.Object
	mu   *robust.Mutex
	fast *robust.Mutex // see lock_fast.go
	life wait.Handle   // the close contract (internal/wait)

	own bool // the file is ours to close (else borrowed)
}

// createLockObject makes a new object of kind k whose payload begins with a
// lock record (an all-zero record is an unlocked lock).
func createLockObject(k layout.Kind, payload int, o options, init func([]byte) error) (*segment.Object, error) {
	return segment.CreateObject(segment.ObjectSpec{Kind: k, PayloadSize: payload}, o.Options, init)
}

// openObject opens the object name of kind k and checks that its payload
// holds at least min bytes; a shorter one is corrupt. check, unless nil,
// validates the kind's own bytes. Both run under the file's Validate, to
// its end, so a file truncated while Open reads it fails with an error
// wrapping segment.ErrTruncated instead of a fault or a handle on zeros.
func openObject(name string, k layout.Kind, min int, o options, check func(*segment.Object) error) (*segment.Object, error) {
	obj, err := identify.OpenObject(name, k, nil, o.Open())
	if err != nil {
		return nil, err
	}
	err = obj.Validate(func() error {
		if len(obj.Payload) < min {
			return &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: %s payload of %d bytes, need %d", ErrCorrupt, k, len(obj.Payload), min)}
		}
		if check != nil {
			return check(obj)
		}
		return nil
	})
	if err != nil {
		obj.Close()
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
		}
		return nil, err
	}
	return obj, nil
}

// initOwn makes h the handle of obj's own lock record, at the start of its
// payload; h closes obj's file. what is "Lock" or "RLock".
func (h *lockHandle) initOwn(what string, obj *segment.Object) {
	h.initBorrowed(what, obj.File, obj.Header.Kind, layout.HeaderSize)
	h.obj, h.own = obj, true
}

// initBorrowed makes h a handle on the record at offset off of f, a file
// that belongs to someone else: h never closes it.
func (h *lockHandle) initBorrowed(what string, f *segment.File, kind layout.Kind, off int) {
	h.what, h.name, h.kind, h.off, h.file = what, f.Name, kind, off, f
	h.life.Init()
	h.mu = robust.Attach(f, off, &h.life)
	h.fast = h.mu
}

// m is the handle's mutex.
func (h *lockHandle) m() *robust.Mutex { return h.mu }

// closed reports whether Close was called: one load, the fast paths' only
// check.
func (h *lockHandle) closed() bool { return h.life.Closed() }

func (h *lockHandle) close() error {
	h.closeFast()
	if !h.life.Close(h.mu.Kick) {
		return nil
	}
	if !h.own {
		return nil
	}
	return h.fail("Close", h.file.Close())
}

func (h *lockHandle) unlink() error {
	if h.obj == nil {
		return h.fail("Unlink", fmt.Errorf("%w: it is part of the %s; remove that instead", ErrInvalidArgument, h.kind))
	}
	return h.fail("Unlink", h.obj.Unlink())
}

// desc names the lock: "Lock jobs", or "Value jobs's RLock" for one that
// lives in another object.
func (h *lockHandle) desc() string {
	if h.kind == layout.KindLock || h.kind == layout.KindRLock {
		return h.what + " " + h.name
	}
	return h.kind.String() + " " + h.name + "'s " + h.what
}

// fail is the error of op on the lock: "sem: op of Lock NAME: err"; nil
// stays nil and a context's error stays as it is (internal/errs).
func (h *lockHandle) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" of "+h.desc(), err)
}

// checkOpen returns ErrClosed, naming op and the lock, after Close.
func (h *lockHandle) checkOpen(op string) error {
	if h.closed() {
		return h.fail(op, ErrClosed)
	}
	return nil
}

// unlockError explains a refused op (Unlock, Release, Wait...): who holds
// the lock, if anyone.
func (h *lockHandle) unlockError(op string, err error) error {
	if st := h.m().State(); st.Locked && st.OwnerPID != os.Getpid() {
		return failf(fmt.Sprintf("%s of %s held by pid %d", op, h.desc(), st.OwnerPID), err)
	} else if st.Locked {
		return failf(op+" of "+h.desc()+" held by another goroutine", err)
	}
	return failf(op+" of unlocked "+h.desc(), err)
}

func (h *lockHandle) state() LockState {
	if h.closed() {
		return LockState{}
	}
	st := h.m().State()
	return LockState{
		Locked:      st.Locked,
		Owner:       st.OwnerPID,
		OwnerAlive:  st.OwnerAlive,
		HeldSince:   st.HeldSince,
		Waiters:     st.Waiters,
		Consistency: Consistency(st.Consistency),
		Takeovers:   int(st.Takeovers),
	}
}

// LockState is a snapshot of a Lock or RLock, readable from any process
// that has it open (the CLI's `inspect` shows the same).
//
// HeldSince is exact when the holder had to wait for the lock; a lock taken
// on the uncontended fast path (which never reads the clock) is stamped by
// the first waiter or State call that sees it held, so a long holding shows
// its age from the second look on. Waiters is a hint: a process killed
// while waiting stays counted.
type LockState struct {
	Locked      bool
	Owner       int       // pid of the owning process, 0 when unlocked
	OwnerAlive  bool      // the owner still runs (pid and start time both match)
	HeldSince   time.Time // see below; zero when unknown or unlocked
	Waiters     int       // goroutines blocked in Lock, in all processes
	Consistency Consistency
	Takeovers   int // how many times a dead owner's lock was taken over
}

// Consistency is the robustness state of a lock, as in pthread robust
// mutexes.
type Consistency int

const (
	// Consistent is the normal state.
	Consistent Consistency = Consistency(robust.Consistent)
	// OwnerDied means a process took over the lock of an owner that died
	// holding it and has not yet called MarkConsistent: the protected data
	// is suspect.
	OwnerDied Consistency = Consistency(robust.Inconsistent)
	// NotRecoverable means the lock was released after OwnerDied without
	// MarkConsistent; every attempt to lock it fails with ErrNotRecoverable
	// until Reset.
	NotRecoverable Consistency = Consistency(robust.NotRecoverable)
)

func (c Consistency) String() string { return robust.Consistency(c).String() }
