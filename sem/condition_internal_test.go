package sem

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/proctest"
)

func TestNotifyWithoutWaitersMakesNoSyscall(t *testing.T) {
	proctest.CheckShm(t)
	var wakes atomic.Int32
	condWake = func(addr *uint32, n int) int { wakes.Add(1); return futex.Wake(addr, n) }
	defer func() { condWake = futex.Wake }()
	c, err := NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unlink()
	defer c.Close()
	c.Lock()
	c.Notify(1)
	c.NotifyAll()
	c.Unlock()
	if n := wakes.Load(); n != 0 {
		t.Fatalf("Notify with no waiters: %d wake calls", n)
	}
	// With a waiter: one bump and one wake call per Notify.
	done := make(chan error, 1)
	go func() {
		c.Lock()
		err := c.Wait(context.Background())
		c.Unlock()
		done <- err
	}()
	for c.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Lock()
	c.Notify(1)
	c.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("Notify with a waiter: %d wake calls, want 1", n)
	}
}
