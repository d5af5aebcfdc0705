package sem

import (
	"fmt"

	"github.com/multiproc/multiproc/internal/robust"
)

// InspectLock reads the state of a lock record (the 64 bytes of a Lock,
// RLock or of the lock embedded in a Value or Array) from bytes copied out
// of its file, without opening the object: for tools such as `multiproc
// inspect`. record must start 8-byte aligned, as a fresh slice does.
func InspectLock(record []byte) (LockState, error) {
	st, err := robust.Inspect(record)
	if err != nil {
		return LockState{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return LockState{
		Locked:      st.Locked,
		Owner:       st.OwnerPID,
		OwnerAlive:  st.OwnerAlive,
		HeldSince:   st.HeldSince,
		Waiters:     st.Waiters,
		Consistency: Consistency(st.Consistency),
		Takeovers:   int(st.Takeovers),
	}, nil
}
