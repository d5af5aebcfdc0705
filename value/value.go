package value

import (
	"fmt"
	"io/fs"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/typed"
	"github.com/multiproc/multiproc/sem"
)

// A Value is one T in shared memory, open in this process. Its methods are
// safe for concurrent use by goroutines and processes, Close included (see
// Close).
type Value[T any] struct {
	h    *typed.Handle
	lk   *sem.RLock // h.Lock: nil for a raw value
	rec  *record
	data unsafe.Pointer // the T in the mapping
	word bool           // T fits in one atomic word (at most 8 bytes)

	// The copy an Update hands to its fn, used only with the lock held
	// (see update): a T on the stack would escape to the heap through fn,
	// one allocation per Update.
	scratch *T
	busy    bool // scratch is in use by an Update further up this goroutine
}

// New creates a value holding init, with its own lock: Python's
// Value(typecode, init). Any process can Open it by its Name.
//
// T must be a fixed-size type without pointers (numbers, bool, fixed
// arrays, structs of those); anything else is refused with an error
// wrapping ErrUnsupportedType that names T.
func New[T any](init T, opts ...Option) (*Value[T], error) {
	v, err := create(init, true, opts)
	return v, failf("New", err)
}

// NewRaw creates a value holding init, without a lock: Python's RawValue.
// Load, Store and Add work as on a locked value when T is at most 8 bytes;
// on a larger T, Load and Store are plain copies that a concurrent Store
// may tear. Update, UpdateContext and Repair return ErrNoLock, and Lock
// returns nil. T is restricted as for New.
func NewRaw[T any](init T, opts ...Option) (*Value[T], error) {
	v, err := create(init, false, opts)
	return v, failf("NewRaw", err)
}

func create[T any](init T, locked bool, opts []Option) (*Value[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, err
	}
	h, err := typed.Create(typed.Spec{
		Kind:        layout.KindValue,
		Elem:        t,
		ElemCount:   1,
		PayloadSize: dataOffset + dataSize(t.Size),
		Locked:      locked,
		Init: func(payload []byte) {
			// The payload is zero, so a word-sized T's padding stays zero.
			*(*T)(unsafe.Pointer(&payload[dataOffset])) = init
		},
	}, collect(opts).Options)
	if err != nil {
		return nil, err
	}
	v, err := attach[T](h, t)
	if err != nil {
		h.Obj.Unlink()
		h.Close()
		return nil, err
	}
	return v, nil
}

// Open opens the value called name, made by New or NewRaw in any process.
// It fails with an error wrapping fs.ErrNotExist if there is none,
// ErrKindMismatch if name is another kind of object (the message says
// which), ErrTypeMismatch (naming both types) if it holds another type
// than T, and ErrCorrupt if the file is damaged.
func Open[T any](name string, opts ...Option) (*Value[T], error) {
	v, err := open[T](name, opts)
	if err != nil {
		return nil, failf("Open "+name, err)
	}
	return v, nil
}

func open[T any](name string, opts []Option) (*Value[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, err
	}
	h, err := typed.Open(name, layout.KindValue, t, collect(opts).Open())
	if err != nil {
		return nil, err
	}
	v, err := attach[T](h, t)
	if err != nil {
		h.Close()
		return nil, err
	}
	return v, nil
}

// attach checks the Value's part of the payload and builds the Value.
func attach[T any](h *typed.Handle, t layout.TypeInfo) (*Value[T], error) {
	obj := h.Obj
	if obj.Header.ElemCount != 1 {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: a Value holds 1 element, this one claims %d", ErrCorrupt, obj.Header.ElemCount)}
	}
	rec, err := validate(obj.Payload, t)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	return &Value[T]{
		h:       h,
		lk:      h.Lock,
		rec:     rec,
		data:    unsafe.Pointer(&obj.Payload[dataOffset]),
		word:    isWord(uintptr(t.Size)),
		scratch: new(T),
	}, nil
}

// Name returns the value's name in /dev/shm, which any process can give to
// Open.
func (v *Value[T]) Name() string { return v.h.Obj.Name }

// Pointer returns the address of the shared value itself, for code that
// holds Lock() and needs more than Update gives: a Condition's predicate,
// several values kept consistent under one lock, a repair after
// Lock().LockContext reported ErrOwnerDead. Accesses through it are plain
// memory accesses: hold the lock around them (for a value of at most 8
// bytes that Add or Store may change concurrently, use sync/atomic). The
// pointer is valid until Close.
func (v *Value[T]) Pointer() *T { return (*T)(v.dataPtr("Pointer")) }

// dataPtr returns the address of the shared T, or panics naming op if v is
// closed.
func (v *Value[T]) dataPtr(op string) unsafe.Pointer {
	if v.h.Closed() {
		panic(v.fail(op, ErrClosed).Error())
	}
	return v.data
}

// Close gives up this process's handle on the value: calls blocked on its
// lock return ErrClosed (Close returns once they have), later calls with
// an error result return ErrClosed and the others panic, saying so. A call
// racing Close completes or fails that way; it never touches unmapped
// memory (the mapping goes when v is unreachable), and a goroutine inside
// an Update when Close comes finishes it and releases the lock. Other
// processes that have the value open keep using it; the creator's Close of
// a value made without a Name also removes its name (see Lifetime). Close
// is idempotent.
func (v *Value[T]) Close() error { return v.fail("Close", v.h.Close()) }

// Unlink removes the value's name: no process can Open it any more, while
// those that have it open keep using it until they Close. It works before
// or after Close.
func (v *Value[T]) Unlink() error { return v.fail("Unlink", v.h.Obj.Unlink()) }

// fail is the error of op on v: "value: op of Value NAME: err".
func (v *Value[T]) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" of Value "+v.h.Obj.Name, err)
}
