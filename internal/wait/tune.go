//go:build linux

package wait

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for the tunables, chosen by measurement on a 2-CPU VM
// (bench/: the lock handoff, Condition, Event and Barrier ping-pongs). A
// wake-up of a sleeping process costs ~10 µs there and often far more; a
// round trip between processes on two CPUs drops from tens of µs to about
// one with a spin of this length. A busy spin hurt whenever the peer waited
// for the spinner's CPU, so the spin yields between looks.
const (
	DefaultSpin         = 50 * time.Microsecond
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

// SetSpin sets how long a waiter spins before it sleeps in the kernel (0
// disables spinning) and returns the previous value. It applies to every
// object in the process.
func SetSpin(d time.Duration) time.Duration {
	if d < 0 {
		d = 0
	}
	return time.Duration(spinNanos.Swap(int64(d)))
}

// Spin returns the spin setting (see SetSpin).
func Spin() time.Duration { return time.Duration(spinNanos.Load()) }

// SetPollInterval sets the longest single kernel sleep of a waiter, which
// bounds how long a dead peer goes unnoticed, and returns the previous
// value. Values below 1 ms are raised to 1 ms. It applies to every object
// in the process.
func SetPollInterval(d time.Duration) time.Duration {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return time.Duration(pollNanos.Swap(int64(d)))
}

// PollInterval returns the poll interval (see SetPollInterval).
func PollInterval() time.Duration { return time.Duration(pollNanos.Load()) }

// cpusOnline is the number of CPUs the machine has online: the CPUs a peer
// process may run on, whatever this process's affinity. Spinning pays only
// when there are at least two.
var cpusOnline = func() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n := countCPUList(strings.TrimSpace(string(b))); n > 0 {
			return n
		}
	}
	return runtime.NumCPU()
}()

// countCPUList counts the CPUs in a list such as "0-3,8,10-11".
func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// SpinPays reports whether spinning can help: another CPU exists to run
// the peer a spinner waits for.
func SpinPays() bool { return cpusOnline >= 2 && Spin() > 0 }
