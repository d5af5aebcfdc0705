package array

import (
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
)

// record is the start of an Array file's payload. The payload begins at
// file offset 128, right after the layout.Header (kind Array, ElemCount n,
// the element type's size, alignment, fingerprint and name):
//
//	payload  file
//	 offset offset size   field
//	      0    128    4   flags  recordLocked when the array has a lock (New,
//	                             FromSlice); 0 for NewRaw. Written before
//	                             publication, never changed.
//	      4    132   60   (reserved, zero)
//	     64    192   64   lock   robust process-owned mutex (internal/robust);
//	                             zero and unused in a raw array
//	    128    256   n×s  data   element i at 128 + i×s, s = the element size
//
// The lock has a cache line to itself and the data starts on the next one,
// so processes contending for the lock never share a line with element 0.
// The data is 64-byte aligned and Go sizes are multiples of alignment, so
// every element is aligned for its type, and an element of 4 or 8 bytes is
// a naturally aligned word (atomic operations on Slice()'s elements work).
type record struct {
	flags uint32
	_     [60]byte
	lock  [lockSize]byte
}

// Flag bits of record.flags.
const recordLocked uint32 = 1 << 0

const (
	lockOffset = 64  // payload offset of the lock record
	lockSize   = 64  // size of the lock record
	dataOffset = 128 // payload offset of element 0
)

var _ [dataOffset - unsafe.Sizeof(record{})]byte // compile-time size checks
var _ [unsafe.Sizeof(record{}) - dataOffset]byte

// maxBytes bounds an array's data so that offsets fit an int with room for
// the header and record.
const maxBytes = math.MaxInt - 1<<20

// payloadSize returns the payload size for n elements of t, or an error if
// that is impossible to allocate.
func payloadSize(n int, t layout.TypeInfo) (int, error) {
	if t.Size > 0 && n > maxBytes/int(t.Size) {
		return 0, fmt.Errorf("%d elements of %s (%d bytes each) are more than memory can hold", n, t.Name, t.Size)
	}
	return dataOffset + n*int(t.Size), nil
}

// validate checks the record of a payload opened from a file whose header
// said it holds count elements of type t. It never trusts the bytes.
func validate(payload []byte, count uint64, t layout.TypeInfo) (*record, int, error) {
	if count > uint64(maxBytes) {
		return nil, 0, fmt.Errorf("%w: implausible element count %d", layout.ErrCorrupt, count)
	}
	n := int(count)
	need, err := payloadSize(n, t)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", layout.ErrCorrupt, err)
	}
	if len(payload) < need {
		return nil, 0, fmt.Errorf("%w: %d-byte payload, %d elements of %s need %d", layout.ErrCorrupt, len(payload), n, t.Name, need)
	}
	r := (*record)(unsafe.Pointer(&payload[0]))
	if f := atomic.LoadUint32(&r.flags); f&^recordLocked != 0 {
		return nil, 0, fmt.Errorf("%w: unknown array flags %#x", layout.ErrCorrupt, f)
	}
	return r, n, nil
}
