//go:build linux

package futex

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Operation codes and flags from <linux/futex.h>; x/sys/unix defines none.
const (
	opWake         = 1
	opWaitBitset   = 9 // absolute CLOCK_MONOTONIC deadline, as glibc and Rust std use
	bitsetMatchAny = 0xffffffff
	// FUTEX_PRIVATE_FLAG (128) is deliberately absent: see the package doc.
)

// ErrTimeout is returned by Wait when its deadline passed before a wake-up.
var ErrTimeout = errors.New("futex: deadline reached")

// Wait sleeps while *addr == val, until a Wake on the same word, a spurious
// wake-up, or the deadline (CLOCK_MONOTONIC). A zero deadline waits without
// limit. It returns nil on a wake-up or when *addr != val on entry (EAGAIN),
// and ErrTimeout once the deadline has passed. EINTR is retried here: the
// deadline is absolute, so a retry never extends it.
func Wait(addr *uint32, val uint32, deadline time.Time) error {
	var tsp *unix.Timespec
	var ts unix.Timespec
	if !deadline.IsZero() {
		if time.Until(deadline) <= 0 {
			return ErrTimeout
		}
		ts = unix.NsecToTimespec(monoBase + int64(deadline.Sub(timeBase)))
		tsp = &ts
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_FUTEX,
			uintptr(unsafe.Pointer(addr)), opWaitBitset, uintptr(val),
			uintptr(unsafe.Pointer(tsp)), 0, bitsetMatchAny)
		switch errno {
		case 0, unix.EAGAIN:
			return nil
		case unix.EINTR:
			if atomic.LoadUint32(addr) != val {
				return nil
			}
			continue
		case unix.ETIMEDOUT:
			return ErrTimeout
		default:
			// EFAULT, EINVAL, ENOSYS: a misaligned or unmapped word is a bug
			// in the caller, reported rather than retried.
			return fmt.Errorf("futex wait: %w", errno)
		}
	}
}

// WaitFor is Wait with a relative timeout; d <= 0 means no limit.
func WaitFor(addr *uint32, val uint32, d time.Duration) error {
	if d <= 0 {
		return Wait(addr, val, time.Time{})
	}
	return Wait(addr, val, time.Now().Add(d))
}

// Wake wakes at most n waiters on addr and reports how many it woke.
func Wake(addr *uint32, n int) int {
	if n <= 0 {
		return 0
	}
	if n > 1<<31-1 {
		n = 1<<31 - 1
	}
	r, _, errno := unix.Syscall6(unix.SYS_FUTEX,
		uintptr(unsafe.Pointer(addr)), opWake, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(r)
}

// WakeAll wakes every waiter on addr.
func WakeAll(addr *uint32) int { return Wake(addr, 1<<31-1) }

// timeBase and monoBase are one instant read on Go's clock and on the
// kernel's CLOCK_MONOTONIC. Go's monotonic readings count on the same
// clock, so a deadline converts to an absolute futex timeout as
// monoBase + deadline.Sub(timeBase) without a system call per wait:
// x/sys's ClockGettime is a real syscall (no vDSO), which showed up as 4%
// of a cross-process ping-pong.
var timeBase, monoBase = func() (time.Time, int64) {
	var ts unix.Timespec
	t := time.Now()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return t, ts.Nano()
}()
