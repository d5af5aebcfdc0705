package array

import (
	"fmt"
	"io/fs"
	"iter"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/typed"
)

// An Array is a fixed number of Ts in shared memory, open in this process.
//
// Its elements are plain memory: At, Set, Slice, CopyFrom, CopyTo and All
// read and write them directly, without the lock, exactly like indexing a
// Go slice, and are as safe for concurrent use as a slice shared between
// goroutines. Processes that write elements others read at the same time
// must agree on who touches what (each its own indices, say) or hold
// Lock() around the accesses that must appear atomic together. Its
// methods are safe to call concurrently with Close (see Close).
type Array[T any] struct {
	h    *typed.Handle
	data []T // the elements, in the mapping
}

// New creates an array of n zero elements with a lock (Python's
// Array(typecode, n)). n must not be negative. T must be a fixed-size type
// without pointers (numbers, bool, fixed arrays, structs of those); any
// other is refused with an error wrapping ErrUnsupportedType naming T.
func New[T any](n int, opts ...Option) (*Array[T], error) {
	a, err := create[T](n, nil, true, opts)
	return a, failf("New", err)
}

// NewRaw creates an array of n zero elements without a lock (Python's
// RawArray): Lock returns nil.
func NewRaw[T any](n int, opts ...Option) (*Array[T], error) {
	a, err := create[T](n, nil, false, opts)
	return a, failf("NewRaw", err)
}

// FromSlice creates an array with a lock holding a copy of xs (Python's
// Array(typecode, sequence)).
func FromSlice[T any](xs []T, opts ...Option) (*Array[T], error) {
	a, err := create(len(xs), xs, true, opts)
	return a, failf("FromSlice", err)
}

func create[T any](n int, xs []T, locked bool, opts []Option) (*Array[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: length %d of an Array[%s] is negative", ErrInvalidArgument, n, t.Name)
	}
	size, err := payloadSize(n, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	h, err := typed.Create(typed.Spec{
		Kind:        layout.KindArray,
		Elem:        t,
		ElemCount:   uint64(n),
		PayloadSize: size,
		Locked:      locked,
		Init: func(payload []byte) {
			if n > 0 {
				copy(unsafe.Slice((*T)(unsafe.Pointer(&payload[dataOffset])), n), xs)
			}
		},
	}, collect(opts).Options)
	if err != nil {
		return nil, err
	}
	a, err := attach[T](h, t)
	if err != nil {
		h.Obj.Unlink()
		h.Close()
		return nil, err
	}
	return a, nil
}

// Open opens the array called name, made by New, NewRaw or FromSlice in any
// process; its length is the creator's. It fails with an error wrapping
// fs.ErrNotExist if there is none, ErrKindMismatch if name is another kind
// of object (the message says which), ErrTypeMismatch (naming both types)
// if it holds another element type than T, and ErrCorrupt if the file is
// damaged.
func Open[T any](name string, opts ...Option) (*Array[T], error) {
	a, err := open[T](name, opts)
	if err != nil {
		return nil, failf("Open "+name, err)
	}
	return a, nil
}

func open[T any](name string, opts []Option) (*Array[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, err
	}
	h, err := typed.Open(name, layout.KindArray, t, collect(opts).Open())
	if err != nil {
		return nil, err
	}
	a, err := attach[T](h, t)
	if err != nil {
		h.Close()
		return nil, err
	}
	return a, nil
}

// attach checks the Array's part of the payload and builds the Array.
func attach[T any](h *typed.Handle, t layout.TypeInfo) (*Array[T], error) {
	obj := h.Obj
	n, err := validate(obj.Payload, obj.Header.ElemCount, t)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	a := &Array[T]{h: h, data: []T{}}
	if n > 0 {
		a.data = unsafe.Slice((*T)(unsafe.Pointer(&obj.Payload[dataOffset])), n)
	}
	return a, nil
}

// Name returns the array's name in /dev/shm, which any process can give to
// Open.
func (a *Array[T]) Name() string { return a.h.Obj.Name }

// Len returns the number of elements, fixed at creation.
func (a *Array[T]) Len() int { return len(a.data) }

// At returns element i. Like indexing a slice, it panics if i is out of
// range, with a message giving i and the length (or saying the array is
// closed).
func (a *Array[T]) At(i int) T {
	if uint(i) >= uint(len(a.data)) || a.h.Closed() {
		a.outOfRange("At", i)
	}
	return a.data[i]
}

// Set sets element i to x. Like assigning to a slice element, it panics if
// i is out of range, with a message giving i and the length (or saying the
// array is closed).
func (a *Array[T]) Set(i int, x T) {
	if uint(i) >= uint(len(a.data)) || a.h.Closed() {
		a.outOfRange("Set", i)
	}
	a.data[i] = x
}

func (a *Array[T]) outOfRange(op string, i int) {
	if a.h.Closed() {
		panic(a.fail(op, ErrClosed).Error())
	}
	panic(a.fail(op, fmt.Errorf("index %d out of range with length %d", i, len(a.data))).Error())
}

// Slice returns the elements themselves as a []T: no copy, every write
// through it is a write to the shared memory that every process sees, and
// atomic operations on its elements (sync/atomic on a []int64's elements,
// say) are atomic across processes. It is valid until Close; its length
// and capacity are Len(), so append copies out of shared memory.
func (a *Array[T]) Slice() []T {
	if a.h.Closed() {
		panic(a.fail("Slice", ErrClosed).Error())
	}
	return a.data
}

// CopyFrom copies src into the array's first elements, as copy(a.Slice(),
// src) does, and returns how many it copied: min(len(src), Len()).
func (a *Array[T]) CopyFrom(src []T) int { return copy(a.Slice(), src) }

// CopyTo copies the array's first elements into dst, as copy(dst,
// a.Slice()) does, and returns how many it copied: min(len(dst), Len()).
func (a *Array[T]) CopyTo(dst []T) int { return copy(dst, a.Slice()) }

// All returns an iterator over the elements' indices and values, each read
// when it is reached (a concurrent writer's later changes show).
func (a *Array[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		for i := range a.Len() {
			if !yield(i, a.At(i)) {
				return
			}
		}
	}
}

// Close gives up this process's handle on the array: calls blocked on its
// lock return ErrClosed (Close returns once they have), and later element
// accesses panic, saying so. Slices from Slice are valid until Close, even
// if a itself is dropped (an Array dropped without Close stays mapped until
// the process exits), and must not be used after it; an access racing Close
// never faults. Other processes that have
// it open keep using it; the creator's Close of an array made without a
// Name also removes its name (see Lifetime). Close is idempotent.
func (a *Array[T]) Close() error { return a.fail("Close", a.h.Close()) }

// Unlink removes the array's name: no process can Open it any more, while
// those that have it open keep using it until they Close. It works before
// or after Close.
func (a *Array[T]) Unlink() error { return a.fail("Unlink", a.h.Obj.Unlink()) }

// fail is the error of op on a: "array: op of Array NAME: err".
func (a *Array[T]) fail(op string, err error) error {
	if err == nil {
		return nil // and no message built: success paths call this too
	}
	return failf(op+" of Array "+a.h.Obj.Name, err)
}
