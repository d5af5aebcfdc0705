package sem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

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
	name string        // object name, for messages and Conditions
	kind layout.Kind   // kind of the object file holding the record
	off  int           // byte offset of the record in that file
	file *segment.File // the mapped file
	obj  *segment.Object
	mu   *robust.Mutex
	fast *robust.Mutex // see lock_fast.go
	life wait.Handle   // the close contract (sem/doc.go)

	own bool // the file is ours to close (else borrowed)
}

// createLockObject makes a new object of kind k whose payload begins with a
// lock record (an all-zero record is an unlocked lock).
func createLockObject(k layout.Kind, payload int, o options, init func([]byte) error) (*segment.Object, error) {
	return segment.CreateObject(segment.ObjectSpec{Kind: k, PayloadSize: payload}, o.Options, init)
}

// openObject opens the object name of kind k and checks that its payload
// holds at least min bytes; a shorter one is corrupt.
func openObject(name string, k layout.Kind, min int, o options) (*segment.Object, error) {
	obj, err := segment.OpenObject(name, k, nil, o.Open())
	if err != nil {
		return nil, err
	}
	if len(obj.Payload) < min {
		obj.Close()
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: %s payload of %d bytes, need %d", ErrCorrupt, k, len(obj.Payload), min)}
	}
	return obj, nil
}

// initOwn makes h the handle of obj's own lock record, at the start of its
// payload; h closes obj's file.
func (h *lockHandle) initOwn(obj *segment.Object) {
	h.initBorrowed(obj.File, obj.Header.Kind, layout.HeaderSize)
	h.obj, h.own = obj, true
}

// initBorrowed makes h a handle on the record at offset off of f, a file
// that belongs to someone else: h never closes it.
func (h *lockHandle) initBorrowed(f *segment.File, kind layout.Kind, off int) {
	h.name, h.kind, h.off, h.file = f.Name, kind, off, f
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
	return h.file.Close()
}

func (h *lockHandle) unlink(what string) error {
	if h.obj == nil {
		return &fs.PathError{Op: "unlink", Path: h.file.Path(), Err: fmt.Errorf("%w: this %s is part of the %s; remove that instead", ErrInvalidArgument, what, h.kind)}
	}
	return h.obj.Unlink()
}

// errorf wraps err with the object's kind and name: "sem: Lock NAME: err".
func (h *lockHandle) errorf(what string, err error) error {
	return fmt.Errorf("sem: %s %s: %w", what, h.name, err)
}

// checkOpen returns ErrClosed, wrapped with the name, after Close.
func (h *lockHandle) checkOpen(what string) error {
	if h.closed() {
		return h.errorf(what, ErrClosed)
	}
	return nil
}

// unlockError explains a refused unlock: what = "Lock" or "RLock".
func (h *lockHandle) unlockError(what string, err error) error {
	if st := h.m().State(); st.Locked && st.OwnerPID != os.Getpid() {
		return fmt.Errorf("sem: Unlock of %s %s held by pid %d: %w", what, h.name, st.OwnerPID, err)
	} else if st.Locked {
		return fmt.Errorf("sem: Unlock of %s %s held by another goroutine: %w", what, h.name, err)
	}
	return fmt.Errorf("sem: Unlock of unlocked %s %s: %w", what, h.name, err)
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

// lockError turns a robust error into the sem error returned to callers:
// the sentinel (for errors.Is) wrapped with the lock's name. ctx errors are
// returned as they are.
func (h *lockHandle) lockError(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrOwnerDead), errors.Is(err, ErrNotRecoverable), errors.Is(err, ErrNotOwner), errors.Is(err, ErrClosed):
		return h.errorf(what, err)
	}
	return err
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
