package array

import (
	"fmt"
	"io/fs"
	"iter"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// An Array is a fixed number of Ts in shared memory, open in this process.
//
// Its elements are plain memory: At, Set, Slice, CopyFrom, CopyTo and All
// read and write them directly, without the lock, exactly like indexing a
// Go slice, and are as safe for concurrent use as a slice shared between
// goroutines. Processes that write elements others read at the same time
// must agree on who touches what (each its own indices, say) or hold
// Lock() around the accesses that must appear atomic together. Close must
// come after every other use in this process: it unmaps the memory.
type Array[T any] struct {
	obj    *segment.Object
	data   []T       // the elements, in the mapping; nil after Close
	lk     *sem.Lock // nil for a raw array
	closed atomic.Bool
}

// New creates an array of n zero elements with a lock (Python's
// Array(typecode, n)). n must not be negative. T must be a fixed-size type
// without pointers (numbers, bool, fixed arrays, structs of those); any
// other is refused with an error wrapping ErrUnsupportedType naming T.
func New[T any](n int, opts ...Option) (*Array[T], error) {
	return create[T](n, nil, true, opts)
}

// NewRaw creates an array of n zero elements without a lock (Python's
// RawArray): Lock returns nil.
func NewRaw[T any](n int, opts ...Option) (*Array[T], error) {
	return create[T](n, nil, false, opts)
}

// FromSlice creates an array with a lock holding a copy of xs (Python's
// Array(typecode, sequence)).
func FromSlice[T any](xs []T, opts ...Option) (*Array[T], error) {
	return create(len(xs), xs, true, opts)
}

func create[T any](n int, xs []T, locked bool, opts []Option) (*Array[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, fmt.Errorf("array: %w", err)
	}
	if n < 0 {
		return nil, fmt.Errorf("array: length %d of an Array[%s] is negative: %w", n, t.Name, ErrInvalidArgument)
	}
	size, err := payloadSize(n, t)
	if err != nil {
		return nil, fmt.Errorf("array: %v: %w", err, ErrInvalidArgument)
	}
	o := collect(opts)
	spec := segment.ObjectSpec{
		Kind:        layout.KindArray,
		PayloadSize: size,
		Elem:        &t,
		ElemCount:   uint64(n),
	}
	obj, err := segment.CreateObject(spec, o.Options, func(payload []byte) error {
		r := (*record)(unsafe.Pointer(&payload[0]))
		if locked {
			r.flags = recordLocked
			initLock(payload[lockOffset : lockOffset+lockSize])
		}
		if n > 0 {
			copy(unsafe.Slice((*T)(unsafe.Pointer(&payload[dataOffset])), n), xs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a, err := attach[T](obj)
	if err != nil {
		obj.Unlink()
		obj.Close()
		return nil, err
	}
	return a, nil
}

// Open opens the array called name, made by New, NewRaw or FromSlice in any
// process; its length is the creator's. It fails with an error wrapping
// fs.ErrNotExist if there is none, ErrKindMismatch if name is another kind
// of object, ErrTypeMismatch (naming both types) if it holds another
// element type than T, and ErrCorrupt if the file is damaged.
func Open[T any](name string, opts ...Option) (*Array[T], error) {
	t, err := layout.TypeOf[T]()
	if err != nil {
		return nil, fmt.Errorf("array: %w", err)
	}
	o := collect(opts)
	obj, err := segment.OpenObject(name, layout.KindArray, &t, o.Open())
	if err != nil {
		return nil, err
	}
	a, err := attach[T](obj)
	if err != nil {
		obj.Close()
		return nil, err
	}
	return a, nil
}

// attach checks obj's record and builds the Array over it.
func attach[T any](obj *segment.Object) (*Array[T], error) {
	t, _ := layout.TypeOf[T]()
	rec, n, err := validate(obj.Payload, obj.Header.ElemCount, t)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	a := &Array[T]{obj: obj, data: []T{}}
	if n > 0 {
		a.data = unsafe.Slice((*T)(unsafe.Pointer(&obj.Payload[dataOffset])), n)
	}
	if atomic.LoadUint32(&rec.flags)&recordLocked != 0 {
		if a.lk, err = attachLock(obj, lockOffset); err != nil {
			return nil, &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
		}
	}
	return a, nil
}

// Name returns the array's name in /dev/shm, which any process can give to
// Open.
func (a *Array[T]) Name() string { return a.obj.Name }

// Len returns the number of elements, fixed at creation.
func (a *Array[T]) Len() int { return int(a.obj.Header.ElemCount) }

// At returns element i. Like indexing a slice, it panics if i is out of
// range, with a message giving i and the length (or saying the array is
// closed).
func (a *Array[T]) At(i int) T {
	if uint(i) >= uint(len(a.data)) {
		a.outOfRange("At", i)
	}
	return a.data[i]
}

// Set sets element i to x. Like assigning to a slice element, it panics if
// i is out of range, with a message giving i and the length.
func (a *Array[T]) Set(i int, x T) {
	if uint(i) >= uint(len(a.data)) {
		a.outOfRange("Set", i)
	}
	a.data[i] = x
}

func (a *Array[T]) outOfRange(op string, i int) {
	if a.closed.Load() {
		panic(fmt.Sprintf("array: %s on closed Array %s", op, a.obj.Name))
	}
	panic(fmt.Sprintf("array %s: %s: index %d out of range with length %d", a.obj.Name, op, i, len(a.data)))
}

// Slice returns the elements themselves as a []T: no copy, every write
// through it is a write to the shared memory that every process sees, and
// atomic operations on its elements (sync/atomic on a []int64's elements,
// say) are atomic across processes. It is valid until Close; its length
// and capacity are Len(), so append copies out of shared memory.
func (a *Array[T]) Slice() []T {
	if a.closed.Load() {
		panic("array: Slice on closed Array " + a.obj.Name)
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

// Close unmaps the array in this process and drops its hold on the file;
// slices from Slice must not be used afterwards (they would fault). Other
// processes that have it open keep using it; the creator's Close of an
// array made without a Name also removes its name (see Lifetime). Close must not
// run concurrently with other calls on a; using a afterwards panics. Close
// is idempotent.
func (a *Array[T]) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	a.data = nil
	if a.lk != nil {
		a.lk.Close()
	}
	return a.obj.Close()
}

// Unlink removes the array's name: no process can Open it any more, while
// those that have it open keep using it until they Close. It works before
// or after Close.
func (a *Array[T]) Unlink() error { return a.obj.Unlink() }
