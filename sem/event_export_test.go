package sem

import "sync/atomic"

// EventSleepers reads the Event's shared sleeper count, so tests can prove
// that waiters in other processes are blocked instead of sleeping and hoping.
func EventSleepers(e *Event) uint32 { return atomic.LoadUint32(e.sleepers) }

// EventWord reads the Event's raw flag word.
func EventWord(e *Event) uint32 { return atomic.LoadUint32(e.word) }

// SetEventWakeHook installs f to run before each FUTEX_WAKE of Set.
func SetEventWakeHook(f func()) (restore func()) {
	old := testHookEventWake
	testHookEventWake = f
	return func() { testHookEventWake = old }
}
