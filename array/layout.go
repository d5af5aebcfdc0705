package array

import (
	"fmt"
	"math"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/typed"
)

// An Array file's payload is the head every typed object has
// (internal/typed) and the elements. The payload begins at file offset
// 128, right after the layout.Header (kind Array, ElemCount n, the element
// type's size, alignment, fingerprint and name):
//
//	payload  file
//	 offset offset size   field
//	      0    128    4   flags  typed.FlagLocked when the array has a lock
//	                             (New, FromSlice); 0 for NewRaw. Written
//	                             before publication, never changed.
//	      4    132   60   (reserved, zero)
//	     64    192   64   lock   robust process-owned mutex (internal/robust),
//	                             used as a sem.RLock; zero and unused in a raw array
//	    128    256   n×s  data   element i at 128 + i×s, s = the element size
//
// The data is 64-byte aligned and Go sizes are multiples of alignment, so
// every element is aligned for its type, and an element of 4 or 8 bytes is
// a naturally aligned word (atomic operations on Slice()'s elements work).
const dataOffset = typed.DataOffset // payload offset of element 0

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

// validate checks the payload of a file whose header said it holds count
// elements of type t (typed.Open checked the head), and returns the
// element count. It never trusts the bytes.
func validate(payload []byte, count uint64, t layout.TypeInfo) (int, error) {
	if count > uint64(maxBytes) {
		return 0, fmt.Errorf("%w: implausible element count %d", ErrCorrupt, count)
	}
	n := int(count)
	need, err := payloadSize(n, t)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(payload) < need {
		return 0, fmt.Errorf("%w: %d-byte payload, %d elements of %s need %d", ErrCorrupt, len(payload), n, t.Name, need)
	}
	return n, nil
}
