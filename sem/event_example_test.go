package sem_test

import (
	"context"
	"fmt"
	"time"

	"github.com/multiproc/multiproc/sem"
)

// A worker process waits for the parent's go-ahead. Here both sides run in
// one program; in real use the worker is another process that opens the
// Event by name.
func ExampleEvent() {
	ready, err := sem.NewEvent()
	if err != nil {
		panic(err)
	}
	defer ready.Unlink()
	defer ready.Close()

	done := make(chan struct{})
	go func() { // the worker
		defer close(done)
		ev, err := sem.OpenEvent(ready.Name())
		if err != nil {
			panic(err)
		}
		defer ev.Close()
		if err := ev.Wait(context.Background()); err != nil {
			panic(err)
		}
		fmt.Println("worker: go")
	}()

	fmt.Println("set before:", ready.IsSet())
	ready.Set()
	<-done
	fmt.Println("set after:", ready.IsSet())
	// Output:
	// set before: false
	// worker: go
	// set after: true
}

// Wait gives up when its context ends and leaves the Event as it was.
func ExampleEvent_Wait_timeout() {
	ev, err := sem.NewEvent()
	if err != nil {
		panic(err)
	}
	defer ev.Unlink()
	defer ev.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(ev.Wait(ctx))
	// Output:
	// context deadline exceeded
}

// Clear lowers the flag again; a Wait that slept through a Set and a Clear
// still returns, as Python's Event.wait does.
func ExampleEvent_Clear() {
	ev, err := sem.NewEvent(sem.Name("mpgo_example_event"))
	if err != nil {
		panic(err)
	}
	defer ev.Unlink()
	defer ev.Close()

	ev.Set()
	ev.Clear()
	fmt.Println(ev.Name(), ev.IsSet())
	// Output:
	// mpgo_example_event false
}
