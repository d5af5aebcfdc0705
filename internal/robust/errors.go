//go:build linux

package robust

import "github.com/multiproc/multiproc/internal/errs"

// ErrOwnerDead is returned when the previous owner process died holding the
// lock (or left its state inconsistent). The caller now holds the lock; the
// data it protects may be half updated. Repair it and call MarkConsistent
// before unlocking, or the lock becomes not recoverable (errs.ErrOwnerDead).
var ErrOwnerDead = errs.ErrOwnerDead

// ErrNotRecoverable is returned when a lock is taken whose dead owner's
// state was never repaired: unlocked after ErrOwnerDead without
// MarkConsistent. The caller does not hold the lock (errs.ErrNotRecoverable).
var ErrNotRecoverable = errs.ErrNotRecoverable

// ErrNotOwner is returned when unlocking or repairing a lock this process
// does not hold (errs.ErrNotOwner).
var ErrNotOwner = errs.ErrNotOwner
