//go:build linux

package wait

import (
	"runtime"
	"syscall"
	"time"
)

// spinBurst is how many looks a spinner takes between two yields: enough
// that a peer running on another CPU is caught within a fraction of a µs of
// its change, few enough that a peer waiting for this CPU gets it soon.
const spinBurst = 16

// SpinUntil watches done for up to the spin time (SetSpin) and reports
// whether it became true. Between bursts of looks it yields the CPU
// (sched_yield), so that a peer that needs this CPU runs at once instead of
// after our time slice; with GOMAXPROCS 1 it also yields the P, since the
// peer may be another goroutine of this process. When spinning cannot pay
// (one CPU online, or SetSpin(0)) it looks once. A spinner burns at most
// the spin time of CPU per wait.
func SpinUntil(done func() bool) bool { return SpinUntilLocal(done, nil) }

// SpinUntilLocal is SpinUntil for a waiter whose peer may be another
// goroutine of this process: when localPeer reports true at a yield, the
// spinner yields its P (runtime.Gosched) instead of the CPU, so that peer
// can run. Yielding the P whenever it is not needed costs dearly across
// processes (the runtime wakes idle Ps, which take the CPU the peer
// process needs: a 2-process barrier cycle measured 13 µs instead of 2.4),
// so it is done only where a local peer is known (a barrier with several
// parties in this process) or the only P would otherwise be held.
func SpinUntilLocal(done func() bool, localPeer func() bool) bool {
	if done() {
		return true
	}
	if !SpinPays() {
		return false
	}
	oneP := runtime.GOMAXPROCS(0) == 1
	end := time.Now().Add(Spin())
	for {
		for range spinBurst {
			if done() {
				return true
			}
		}
		if time.Now().After(end) {
			return false
		}
		switch {
		case localPeer != nil && localPeer():
			runtime.Gosched()
		case oneP:
			runtime.Gosched()
			Yield()
		default:
			Yield()
		}
	}
}

// Yield gives the CPU to another runnable thread, if any (sched_yield).
func Yield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
