//go:build linux

package robust

import "errors"

// ErrOwnerDead is returned when the previous owner process died holding the
// lock (or left its state inconsistent). The caller now holds the lock; the
// data it protects may be half updated. Repair it and call MarkConsistent
// before unlocking, or the lock becomes not recoverable. sem.ErrOwnerDead is
// this value.
var ErrOwnerDead = errors.New("previous lock owner died holding the lock")

// ErrNotRecoverable is returned when a lock is taken whose dead owner's
// state was never repaired: unlocked after ErrOwnerDead without
// MarkConsistent. The caller does not hold the lock.
var ErrNotRecoverable = errors.New("lock not recoverable")

// ErrNotOwner is returned when unlocking or repairing a lock this process
// does not hold.
var ErrNotOwner = errors.New("lock not held by caller")
