package value

import (
	"sync/atomic"
	"unsafe"
)

// A value of at most 8 bytes lives in one naturally aligned word of the
// mapping: a 32-bit word for up to 4 bytes, a 64-bit word for up to 8. The
// bytes of the word past the value are padding that every writer leaves
// zero, so loading the word and keeping its first bytes yields the value
// (little-endian, the only byte order we run on), and storing a whole word
// whose padding is zero writes it. Each access is then one atomic
// instruction, which no process can tear and every process sees in one
// order (sync/atomic's sequential consistency, on shared physical memory).

// loadWord returns the value in the word at p and the word itself.
func loadWord[T any](p unsafe.Pointer) (T, uint64) {
	var x T
	if unsafe.Sizeof(x) <= 4 {
		w := atomic.LoadUint32((*uint32)(p))
		x = *(*T)(unsafe.Pointer(&w))
		return x, uint64(w)
	}
	w := atomic.LoadUint64((*uint64)(p))
	x = *(*T)(unsafe.Pointer(&w))
	return x, w
}

// wordOf returns x as the word that stores it, padding zero.
func wordOf[T any](x T) uint64 {
	if unsafe.Sizeof(x) <= 4 {
		var w uint32
		*(*T)(unsafe.Pointer(&w)) = x
		return uint64(w)
	}
	var w uint64
	*(*T)(unsafe.Pointer(&w)) = x
	return w
}

// storeWord atomically stores x into the word at p.
func storeWord[T any](p unsafe.Pointer, x T) {
	if unsafe.Sizeof(x) <= 4 {
		atomic.StoreUint32((*uint32)(p), uint32(wordOf(x)))
		return
	}
	atomic.StoreUint64((*uint64)(p), wordOf(x))
}

// casWord replaces the word at p by x's word if it still is old.
func casWord[T any](p unsafe.Pointer, old uint64, x T) bool {
	if unsafe.Sizeof(x) <= 4 {
		return atomic.CompareAndSwapUint32((*uint32)(p), uint32(old), uint32(wordOf(x)))
	}
	return atomic.CompareAndSwapUint64((*uint64)(p), old, wordOf(x))
}

// An Integer is a type Add works on: any integer type, named or not.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// Add atomically adds delta to v and returns the new value, wrapping
// around on overflow as Go integers do (subtract with a negative delta, or
// with ^T(n-1) for unsigned T, as sync/atomic does).
//
// Add never takes the lock: it is one atomic instruction on the shared word
// (a compare-and-swap loop for 1- and 2-byte integers), so it works the
// same on raw values, never blocks, and cannot be left half-done by a
// process that dies. Adds from any number of processes are all counted.
// Add composes with Load, Store and Update: Update commits with a
// compare-and-swap and recomputes if an Add slipped in.
//
// It is a function rather than a method because Go methods cannot narrow
// their type's constraint: Add(v, 1) does not compile for a Value[float64]
// or a Value of a struct.
func Add[T Integer](v *Value[T], delta T) T {
	p := v.dataPtr("Add")
	switch unsafe.Sizeof(delta) {
	case 8:
		return T(atomic.AddUint64((*uint64)(p), uint64(delta)))
	case 4:
		return T(atomic.AddUint32((*uint32)(p), uint32(delta)))
	}
	// 1 or 2 bytes in a 32-bit word: keep the padding bytes zero.
	mask := uint32(1)<<(8*unsafe.Sizeof(delta)) - 1
	w := (*uint32)(p)
	for {
		old := atomic.LoadUint32(w)
		n := T(old) + delta
		if atomic.CompareAndSwapUint32(w, old, uint32(n)&mask) {
			return n
		}
	}
}
