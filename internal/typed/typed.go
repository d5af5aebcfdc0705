// Package typed is what package value and package array share: a typed
// object of one kind in one segment, with an optional lock, opened and
// closed one way. Value and Array keep their own public API (types,
// options, errors, documentation) over it, and their own part of the
// payload.
//
// # The payload's head
//
// Both kinds' payloads begin the same way (the payload follows the
// 128-byte layout.Header, so payload offsets are file offsets less 128):
//
//	offset size field
//	     0    4 flags  FlagLocked when the object has a lock (New, FromSlice);
//	                   0 for a raw one. Written before publication, never
//	                   changed; other bits are refused.
//	     4   60 the kind's own fields (a Value's write mark), else zero
//	    64   64 lock   robust process-owned mutex record (internal/robust),
//	                   used as a sem.RLock; zero and unused without a lock
//	   128    … data   64-byte aligned
//
// The lock has a cache line to itself and the data starts on the next one,
// so processes contending for the lock never share a line with the data.
//
// # Lock and close
//
// The lock is a *sem.RLock on the lock record (internal/semlink): Python's
// get_lock() returns an RLock by default, so code ported from Python that
// reads the value while holding its lock works. A Handle's Close follows
// the one close contract (internal/wait): it marks the handle closed,
// closes the lock's handle — which ends blocked lock calls with ErrClosed
// and returns once they have — and gives up the file. Until Close the file
// is pinned (segment.File.Pin): the memory a Value's Pointer or an Array's
// Slice hands out stays mapped even if the handle itself is dropped. After
// Close it stays mapped until the Handle is unreachable, so a call racing
// Close never faults.
package typed

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/errs"
	"github.com/multiproc/multiproc/internal/identify"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/semlink"
	"github.com/multiproc/multiproc/internal/wait"
	"github.com/multiproc/multiproc/sem"
)

// The head's layout (see the package doc).
const (
	FlagLocked uint32 = 1 << 0
	LockOffset        = 64
	LockSize          = robust.RecordSize
	DataOffset        = 128
)

var _ [LockSize - (DataOffset - LockOffset)]byte // the lock fills its line
var _ [(DataOffset - LockOffset) - LockSize]byte

// A Handle is one process's handle on a Value's or an Array's file.
type Handle struct {
	Obj  *segment.Object
	Lock *sem.RLock // nil for a raw object
	life wait.Handle
}

// Spec says what to create: the object's kind and element type, its
// payload size and element count, whether it has a lock, and init, which
// fills the kind's part of the zeroed payload before publication.
type Spec struct {
	Kind        layout.Kind
	Elem        layout.TypeInfo
	ElemCount   uint64
	PayloadSize int
	Locked      bool
	Init        func(payload []byte)
}

// Create makes the object spec describes, named as opts say.
func Create(spec Spec, opts segment.Options) (*Handle, error) {
	obj, err := segment.CreateObject(segment.ObjectSpec{
		Kind:        spec.Kind,
		PayloadSize: spec.PayloadSize,
		Elem:        &spec.Elem,
		ElemCount:   spec.ElemCount,
	}, opts, func(payload []byte) error {
		if spec.Locked {
			binary.LittleEndian.PutUint32(payload, FlagLocked) // a zero lock record is an unlocked lock
		}
		if spec.Init != nil {
			spec.Init(payload)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h, err := attach(obj)
	if err != nil {
		obj.Unlink()
		obj.Close()
		return nil, err
	}
	return h, nil
}

// Open opens the object name, which must be of kind k and hold elements
// of type t; one of another kind says what it is (internal/identify).
func Open(name string, k layout.Kind, t layout.TypeInfo, opts segment.OpenOptions) (*Handle, error) {
	obj, err := identify.OpenObject(name, k, &t, opts)
	if err != nil {
		return nil, err
	}
	h, err := attach(obj)
	if err != nil {
		obj.Close()
		return nil, err
	}
	return h, nil
}

// attach checks the head of obj's payload and builds the Handle.
func attach(obj *segment.Object) (*Handle, error) {
	if len(obj.Payload) < DataOffset {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: %s payload of %d bytes, the head alone needs %d", errs.ErrCorrupt, obj.Header.Kind, len(obj.Payload), DataOffset)}
	}
	// Read under the file's validation: a file truncated meanwhile fails
	// with segment.ErrTruncated instead of faulting.
	var flags uint32
	err := obj.Validate(func() error {
		flags = atomic.LoadUint32((*uint32)(unsafe.Pointer(&obj.Payload[0])))
		if flags&^FlagLocked != 0 {
			return fmt.Errorf("%w: unknown %s flags %#x", errs.ErrCorrupt, obj.Header.Kind, flags)
		}
		return nil
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	h := &Handle{Obj: obj}
	h.life.Init()
	obj.Pin() // Slice and Pointer are valid until Close, whoever keeps the handle
	if flags&FlagLocked != 0 {
		h.Lock = semlink.WrapRLock(obj.File, obj.Header.Kind, layout.HeaderSize+LockOffset).(*sem.RLock)
	}
	return h, nil
}

// Closed reports whether Close was called: one load.
func (h *Handle) Closed() bool { return h.life.Closed() }

// Close closes the handle as the package doc says. It is idempotent.
func (h *Handle) Close() error {
	if !h.life.Close(nil) {
		return nil
	}
	if h.Lock != nil {
		h.Lock.Close()
	}
	h.Obj.Unpin()
	return h.Obj.Close()
}

// InspectHeadSize is how many bytes from the start of a file InspectLock
// needs.
const InspectHeadSize = layout.HeaderSize + DataOffset

// InspectLock reads the state of the lock from the first InspectHeadSize
// bytes of a Value's or an Array's file (a copy), without opening it and
// without knowing the element type. It reports hasLock false for a raw
// object. The header is not validated here; the caller has done that.
func InspectLock(head []byte) (st sem.LockState, hasLock bool, err error) {
	if len(head) < InspectHeadSize {
		return st, false, fmt.Errorf("%w: %d bytes, need %d", errs.ErrCorrupt, len(head), InspectHeadSize)
	}
	p := head[layout.HeaderSize:]
	if binary.LittleEndian.Uint32(p[0:4])&FlagLocked == 0 {
		return st, false, nil
	}
	rec := make([]byte, LockSize) // aligned copy
	copy(rec, p[LockOffset:LockOffset+LockSize])
	st, err = sem.InspectLock(rec)
	return st, err == nil, err
}
