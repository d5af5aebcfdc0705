package sem_test

import (
	"context"
	"fmt"

	"github.com/multiproc/multiproc/sem"
)

// A Condition with its own RLock: a consumer waits for an item that a
// producer (another process, in real use: sem.OpenCondition(name)) puts.
func ExampleCondition() {
	c, err := sem.NewCondition(nil)
	if err != nil {
		panic(err)
	}
	defer c.Unlink()
	defer c.Close()

	items := 0 // in real use, in shared memory guarded by c's lock
	go func() {
		c.Lock()
		items++
		c.Notify(1)
		c.Unlock()
	}()

	c.Lock()
	if err := c.WaitFor(context.Background(), func() bool { return items > 0 }); err != nil {
		panic(err)
	}
	fmt.Println("items:", items)
	c.Unlock()
	// Output: items: 1
}

// A Condition on an existing Lock; OpenCondition in another process opens
// both the Condition and the Lock.
func ExampleNewCondition() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()
	c, err := sem.NewCondition(l)
	if err != nil {
		panic(err)
	}
	defer c.Unlink()
	defer c.Close()

	c2, err := sem.OpenCondition(c.Name())
	if err != nil {
		panic(err)
	}
	defer c2.Close()
	fmt.Println(c2.Locker().(*sem.Lock).Name() == l.Name())
	// Output: true
}

// Wait gives up when its context ends, with the lock held again.
func ExampleCondition_Wait() {
	c, err := sem.NewCondition(nil)
	if err != nil {
		panic(err)
	}
	defer c.Unlink()
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Lock()
	fmt.Println(c.Wait(ctx))
	c.Unlock()
	// Output: context canceled
}

// NotifyAll wakes every waiter in every process; with no waiter, Notify and
// NotifyAll make no system call.
func ExampleCondition_NotifyAll() {
	c, err := sem.NewCondition(nil)
	if err != nil {
		panic(err)
	}
	defer c.Unlink()
	defer c.Close()

	c.Lock()
	c.NotifyAll()
	c.Unlock()
	fmt.Println("waiters:", c.Waiters())
	// Output: waiters: 0
}
