package value

import (
	"encoding/binary"
	"fmt"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/sem"
)

// InspectHeadSize is how many bytes from the start of a Value's file
// InspectLock needs.
const InspectHeadSize = layout.HeaderSize + dataOffset

// InspectLock reads the state of a Value's lock from the first
// InspectHeadSize bytes of its file (a copy), without opening it and
// without knowing T: for tools such as `multiproc inspect`. It reports
// hasLock false for a raw value. The header is not validated here; the
// caller has done that.
func InspectLock(head []byte) (st sem.LockState, hasLock bool, err error) {
	if len(head) < InspectHeadSize {
		return st, false, fmt.Errorf("%w: %d bytes, need %d", layout.ErrCorrupt, len(head), InspectHeadSize)
	}
	p := head[layout.HeaderSize:]
	if binary.LittleEndian.Uint32(p[0:4])&recordLocked == 0 {
		return st, false, nil
	}
	rec := make([]byte, lockSize) // aligned copy
	copy(rec, p[lockOffset:lockOffset+lockSize])
	st, err = sem.InspectLock(rec)
	return st, err == nil, err
}
