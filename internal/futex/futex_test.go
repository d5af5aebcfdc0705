//go:build linux

package futex

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestWaitReturnsAtOnceWhenValueDiffers(t *testing.T) {
	var w uint32 = 1
	if err := Wait(&w, 0, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("Wait on a changed word: %v", err)
	}
}

func TestWaitTimesOut(t *testing.T) {
	var w uint32
	start := time.Now()
	err := WaitFor(&w, 0, 20*time.Millisecond)
	if err != ErrTimeout {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("Wait returned early after %v", el)
	}
	if err := Wait(&w, 0, time.Now().Add(-time.Second)); err != ErrTimeout {
		t.Fatalf("past deadline: %v", err)
	}
}

func TestWakeReleasesWaiter(t *testing.T) {
	var w uint32
	done := make(chan error, 1)
	go func() {
		for atomic.LoadUint32(&w) == 0 {
			if err := WaitFor(&w, 0, 5*time.Second); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	atomic.StoreUint32(&w, 1)
	Wake(&w, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := Wake(&w, 1); n != 0 {
		t.Fatalf("Wake with no waiters woke %d", n)
	}
	if n := Wake(&w, 0); n != 0 {
		t.Fatalf("Wake(0) woke %d", n)
	}
}

func TestDeadlineConversionMatchesKernelClock(t *testing.T) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	got := monoBase + int64(time.Since(timeBase))
	if diff := got - ts.Nano(); diff < -int64(time.Millisecond) || diff > int64(time.Millisecond) {
		t.Fatalf("converted clock is %v off CLOCK_MONOTONIC", time.Duration(diff))
	}
}
