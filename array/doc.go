// Package array gives a fixed-length typed array in shared memory, visible
// to every process that opens it by name: the Go form of Python's
// multiprocessing.Array and RawArray, with a type parameter instead of a
// typecode, and a zero-copy []T view.
//
//	a, err := array.New[float64](1 << 20)   // or FromSlice(xs), NewRaw(n)
//	... pass a.Name() to worker processes ...
//	a, err := array.Open[float64](name)     // in a worker
//	s := a.Slice()                          // the shared memory itself
//	for i := lo; i < hi; i++ { s[i] *= s[i] }
//
// T is any fixed-size type without pointers: numbers, bool, fixed arrays
// and structs of those. New, NewRaw, FromSlice and Open refuse anything
// else with an error naming the type; Open[T] refuses an array created
// with another element type, naming both.
//
// The elements are 64-byte aligned as a whole and aligned for T each, so
// sync/atomic works on the elements of Slice() across processes (an
// []int64 of counters, say).
//
// # Element access and the lock
//
// At, Set, Slice, CopyFrom, CopyTo and All touch the elements directly,
// as indexing a Go slice does; none takes the lock. Python's synchronized
// Array takes its lock on every element access: that makes each single
// access atomic, but nothing larger (`a[i] += 1` still races), at the cost
// of a lock round trip per element. Here the lock is for the caller to
// hold around exactly the accesses that must be atomic together:
//
//	l := a.Lock()
//	l.Lock()
//	a.Set(i, a.At(i)+1)
//	l.Unlock()
//
// The lock is an RLock, as Python's get_lock() is by default: the
// goroutine that holds it may lock it again (a helper that locks, called
// inside a critical section); any other goroutine waits.
//
// Processes that split the indices between them (the usual parallel
// pattern) need no lock at all.
//
// At and Set panic on an index out of range, with the index and the
// length in the message, as Go slices do: an out-of-range index is a bug
// in the caller, not a condition to handle.
//
// # Lifetime
//
// As in Python: an array made without a Name lives while its creator holds
// it. The creator's Close, or its exit, removes the name, silently;
// processes that opened it keep using it, later opens fail with
// fs.ErrNotExist. One given a Name stays until someone calls Unlink, like
// Python's SharedMemory: the resource tracker removes one forgotten at the
// program's end, with one line on stderr saying so. A Persistent one is
// never touched; only Unlink or `multiproc rm` removes it.
//
// # Caveats
//
//   - The length is fixed at creation; Open gets the creator's length.
//   - After Close, element accesses panic, saying so, and slices from
//     Slice must not be used. Until Close they are valid even if the Array
//     itself is dropped (an Array dropped without Close stays mapped until
//     the process exits).
package array
