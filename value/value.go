package value

import (
	"fmt"
	"io/fs"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
)

// A Value is one T in shared memory, open in this process. Its methods are
// safe for concurrent use by goroutines and processes, except Close, which
// must come after every other use in this process (it unmaps the memory).
type Value[T any] struct {
	obj    *segment.Object
	rec    *record
	data   unsafe.Pointer // the T in the mapping
	word   bool           // T fits in one atomic word (at most 8 bytes)
	lk     *objLock       // nil for a raw value
	closed atomic.Bool
}

// New creates a value holding init, with its own lock: Python's
// Value(typecode, init). Any process can Open it by its Name.
//
// T must be a fixed-size type without pointers (numbers, bool, fixed
// arrays, structs of those); anything else is refused with an error
// wrapping ErrUnsupportedType that names T.
func New[T any](init T, opts ...Option) (*Value[T], error) {
	return create(init, true, opts)
}

// NewRaw creates a value holding init, without a lock: Python's RawValue.
// Load, Store and Add work as on a locked value when T is at most 8 bytes;
// on a larger T, Load and Store are plain copies that a concurrent Store
// may tear. Update, UpdateContext and Repair return ErrNoLock, and Lock
// returns nil. T is restricted as for New.
func NewRaw[T any](init T, opts ...Option) (*Value[T], error) {
	return create(init, false, opts)
}

func create[T any](init T, locked bool, opts []Option) (*Value[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	o := collect(opts)
	spec := segment.ObjectSpec{
		Kind:        layout.KindValue,
		PayloadSize: dataOffset + dataSize(t.Size),
		Elem:        &t,
		ElemCount:   1,
	}
	obj, err := segment.CreateObject(spec, o.Options, func(payload []byte) error {
		r := (*record)(unsafe.Pointer(&payload[0]))
		if locked {
			r.flags = recordLocked
			initLock(payload[lockOffset : lockOffset+lockSize])
		}
		// The payload is zero, so a word-sized T's padding stays zero.
		*(*T)(unsafe.Pointer(&payload[dataOffset])) = init
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, err := attach[T](obj)
	if err != nil {
		obj.Unlink()
		obj.Close()
		return nil, err
	}
	return v, nil
}

// Open opens the value called name, made by New or NewRaw in any process.
// It fails with an error wrapping fs.ErrNotExist if there is none,
// ErrKindMismatch if name is another kind of object, ErrTypeMismatch
// (naming both types) if it holds another type than T, and ErrCorrupt if
// the file is damaged.
func Open[T any](name string, opts ...Option) (*Value[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	o := collect(opts)
	obj, err := segment.OpenObject(name, layout.KindValue, &t, o.Open())
	if err != nil {
		return nil, err
	}
	if obj.Header.ElemCount != 1 {
		obj.Close()
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: fmt.Errorf("%w: a Value holds 1 element, this one claims %d", layout.ErrCorrupt, obj.Header.ElemCount)}
	}
	v, err := attach[T](obj)
	if err != nil {
		obj.Close()
		return nil, err
	}
	return v, nil
}

// attach checks obj's record and builds the Value over it.
func attach[T any](obj *segment.Object) (*Value[T], error) {
	t, _ := layout.TypeOf[T]()
	rec, err := validate(obj.Payload, t)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	v := &Value[T]{
		obj:  obj,
		rec:  rec,
		data: unsafe.Pointer(&obj.Payload[dataOffset]),
		word: isWord(uintptr(t.Size)),
	}
	if atomic.LoadUint32(&rec.flags)&recordLocked != 0 {
		if v.lk, err = attachLock(obj, lockOffset); err != nil {
			return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
		}
	}
	return v, nil
}

// Name returns the value's name in /dev/shm, which any process can give to
// Open.
func (v *Value[T]) Name() string { return v.obj.Name }

// Pointer returns the address of the shared value itself, for code that
// holds Lock() and needs more than Update gives: a Condition's predicate,
// several values kept consistent under one lock, a repair after
// Lock().LockContext reported ErrOwnerDead. Accesses through it are plain
// memory accesses: hold the lock around them (for a value of at most 8
// bytes that Add or Store may change concurrently, use sync/atomic). The
// pointer is valid until Close.
func (v *Value[T]) Pointer() *T { return (*T)(v.dataPtr("Pointer")) }

// dataPtr returns the address of the shared T, or panics naming op if v is
// closed: the mapping is gone, and touching it would fault.
func (v *Value[T]) dataPtr(op string) unsafe.Pointer {
	if v.closed.Load() {
		panic("value: " + op + " on closed Value " + v.obj.Name)
	}
	return v.data
}

// Close unmaps the value in this process and drops its hold on the file.
// Other processes that have it open keep using it; the creator's Close of a
// value made without a Name also removes its name (see Lifetime). Close must
// not run concurrently with other calls on v; using v afterwards panics
// (the calls with an error result return ErrClosed). Close is idempotent.
func (v *Value[T]) Close() error {
	if v.closed.Swap(true) {
		return nil
	}
	if v.lk != nil {
		v.lk.close()
	}
	return v.obj.Close()
}

// Unlink removes the value's name: no process can Open it any more, while
// those that have it open keep using it until they Close. It works before
// or after Close.
func (v *Value[T]) Unlink() error { return v.obj.Unlink() }
