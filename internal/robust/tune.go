//go:build linux

package robust

import (
	"sync/atomic"
	"time"
)

// Defaults for the tunables. The spin was chosen by measurement on a 2-CPU
// VM (bench/lock_test.go BenchmarkLockHandoff, bench/condition_test.go
// BenchmarkConditionPingPong): waking a sleeping waiter costs ~10 µs and
// often far more, a condition round trip between processes drops from ~22
// µs to ~2.5 µs with it. A busy spin hurt there whenever the holder waited
// for the spinner's CPU, so the spin yields the CPU between looks.
const (
	DefaultSpin         = 20 * time.Microsecond
	DefaultPollInterval = 100 * time.Millisecond
)

var (
	spinNanos atomic.Int64
	pollNanos atomic.Int64
)

func init() {
	spinNanos.Store(int64(DefaultSpin))
	pollNanos.Store(int64(DefaultPollInterval))
}

// SetSpin sets how long a contended Lock spins before it sleeps in the
// kernel (0 disables spinning) and returns the previous value. It applies
// to every lock in the process.
func SetSpin(d time.Duration) time.Duration {
	if d < 0 {
		d = 0
	}
	return time.Duration(spinNanos.Swap(int64(d)))
}

// SetPollInterval sets the longest single kernel sleep of a waiter, which
// bounds how long a dead owner goes unnoticed, and returns the previous
// value. Values below 1 ms are raised to 1 ms.
func SetPollInterval(d time.Duration) time.Duration {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return time.Duration(pollNanos.Swap(int64(d)))
}

// PollInterval returns the current poll interval (see SetPollInterval), for
// other waits on shared words that want the same bound.
func PollInterval() time.Duration { return time.Duration(pollNanos.Load()) }

// Spin returns the current spin setting (see SetSpin), for other waits on
// shared words that want the same trade.
func Spin() time.Duration { return time.Duration(spinNanos.Load()) }

// SpinWait spins, yielding the CPU between looks as Lock's spin does,
// until done reports true (it returns true) or the spin time set by SetSpin
// has passed (false). Other waits on shared words (a Condition's sequence
// word) use it so that all spinning follows one rule.
func SpinWait(done func() bool) bool {
	d := Spin()
	if d <= 0 {
		return done()
	}
	end := time.Now().Add(d)
	for {
		for range 16 {
			if done() {
				return true
			}
		}
		if time.Now().After(end) {
			return false
		}
		yield()
	}
}
