package sem

import (
	"time"

	"github.com/multiproc/multiproc/internal/robust"
)

// SetSpin sets how long a contended Lock or RLock (and a Condition waiter)
// spins, watching the shared word and yielding the CPU between looks,
// before it sleeps in the kernel, and returns the previous setting. 0
// disables spinning. It applies to every lock of this process (those inside
// Values, Arrays and Barriers too). The default, 20 µs, turns most handoffs
// between running processes from tens of µs (a sleeping CPU must be woken)
// into a few; see bench/lock_test.go and bench/condition_test.go.
func SetSpin(d time.Duration) time.Duration { return robust.SetSpin(d) }

// SetPollInterval sets the longest single kernel sleep of a lock waiter,
// which bounds how long the death of a lock's owner goes unnoticed, and
// returns the previous setting (default 100 ms; at least 1 ms). It applies
// to every lock of this process.
func SetPollInterval(d time.Duration) time.Duration { return robust.SetPollInterval(d) }
