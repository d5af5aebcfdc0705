package sem

import (
	"time"

	"github.com/multiproc/multiproc/internal/wait"
)

// SetSpin sets how long a waiter spins, watching the shared word and
// yielding the CPU between looks, before it sleeps in the kernel, and
// returns the previous setting; 0 disables spinning. It applies to every
// object of this process that waits: Locks, RLocks, Conditions, Events,
// Semaphores, Barriers, and the locks inside Values and Arrays. The default
// (50 µs) turns most handoffs between running processes from tens of µs (a
// sleeping CPU must be woken) into about one; a waiter burns at most that
// much CPU per wait. Spinning happens only where it can pay — on a machine
// with more than one CPU online — whatever this process's GOMAXPROCS.
func SetSpin(d time.Duration) time.Duration { return wait.SetSpin(d) }

// SetPollInterval sets the longest single kernel sleep of a waiter, which
// bounds how long the death of a lock's owner or a barrier's party goes
// unnoticed, and returns the previous setting (default 100 ms; at least 1
// ms). It applies to every object of this process that waits.
func SetPollInterval(d time.Duration) time.Duration { return wait.SetPollInterval(d) }
