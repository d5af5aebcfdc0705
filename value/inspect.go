package value

import (
	"github.com/multiproc/multiproc/internal/typed"
	"github.com/multiproc/multiproc/sem"
)

// InspectHeadSize is how many bytes from the start of a Value's file
// InspectLock needs.
const InspectHeadSize = typed.InspectHeadSize

// InspectLock reads the state of a Value's lock from the first
// InspectHeadSize bytes of its file (a copy), without opening it and
// without knowing T: for tools such as `multiproc inspect`. It reports
// hasLock false for a raw value. The header is not validated here; the
// caller has done that.
func InspectLock(head []byte) (st sem.LockState, hasLock bool, err error) {
	return typed.InspectLock(head)
}
