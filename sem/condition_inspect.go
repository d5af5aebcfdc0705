package sem

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
)

// ConditionState is a snapshot of a Condition, for tools such as
// `multiproc inspect`.
type ConditionState struct {
	// Waiters counts goroutines in Wait, in all processes (a hint).
	Waiters int
	// OwnLock is true when the Condition uses its own RLock, kept in its
	// file; Lock is then that RLock's state.
	OwnLock bool
	Lock    LockState
	// Otherwise the lock is in another object: LockObject names it (as
	// OpenLock takes it), LockKind is its kind and LockOffset the offset
	// of its lock record in that object's file, ready for InspectLock.
	LockObject string
	LockKind   layout.Kind
	LockOffset int
}

// InspectCondition reads a Condition's state from the bytes of its file,
// header included, without opening it for use and without writing; the
// bytes may be a copy (pread) or a read-only mapping, 8-byte aligned. It
// checks what OpenCondition checks of the file: a file that is not a
// Condition, or names an impossible lock, gives an error wrapping
// ErrCorrupt or ErrKindMismatch, never a panic.
func InspectCondition(file []byte) (ConditionState, error) {
	h, err := layout.Decode(file)
	if err == nil {
		err = h.Expect("file", layout.KindCondition)
	}
	if err != nil {
		return ConditionState{}, err
	}
	if h.PayloadSize < uint64(condPayload) || len(file) < layout.HeaderSize+condPayload {
		return ConditionState{}, fmt.Errorf("%w: Condition payload of %d bytes, need %d", ErrCorrupt, h.PayloadSize, condPayload)
	}
	p := file[layout.HeaderSize : layout.HeaderSize+condPayload]
	le := binary.LittleEndian
	var c condLayout
	st := ConditionState{Waiters: int(le.Uint32(p[unsafe.Offsetof(c.waiters):]))}
	switch flavor := le.Uint32(p[unsafe.Offsetof(c.flavor):]); flavor {
	case condOwnRLock:
		lock, err := InspectLock(p[:robust.RecordSize])
		if err != nil {
			return ConditionState{}, err
		}
		st.OwnLock, st.Lock = true, lock
		return st, nil
	case condLock, condRLock:
	default:
		return ConditionState{}, fmt.Errorf("%w: condition lock flavor %d", ErrCorrupt, flavor)
	}
	kind := layout.Kind(le.Uint32(p[unsafe.Offsetof(c.lockKind):]))
	off := le.Uint64(p[unsafe.Offsetof(c.lockOff):])
	n := le.Uint32(p[unsafe.Offsetof(c.nameLen):])
	if n == 0 || n > uint32(len(c.name)) {
		return ConditionState{}, fmt.Errorf("%w: lock name length %d", ErrCorrupt, n)
	}
	name := string(p[unsafe.Offsetof(c.name) : unsafe.Offsetof(c.name)+uintptr(n)])
	if _, err := segment.CleanName(name, ""); err != nil {
		return ConditionState{}, fmt.Errorf("%w: lock name: %v", ErrCorrupt, err)
	}
	switch {
	case !kind.Valid() || kind == layout.KindRaw || kind == layout.KindCondition:
		return ConditionState{}, fmt.Errorf("%w: lock in an object of kind %s", ErrCorrupt, kind)
	case off < layout.HeaderSize || off%8 != 0 || off > 1<<40:
		return ConditionState{}, fmt.Errorf("%w: lock record at offset %d", ErrCorrupt, off)
	}
	st.LockObject, st.LockKind, st.LockOffset = name, kind, int(off)
	return st, nil
}
