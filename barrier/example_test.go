package barrier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/multiproc/multiproc/barrier"
)

// Three parties meet at the barrier for two steps; the Action runs once per
// step, before anyone goes on. Here the parties are goroutines; in real use
// each is a process that opens the barrier by name (see Open).
func Example() {
	step := 0
	b, err := barrier.New(3, barrier.Action(func() error {
		step++
		fmt.Println("all three arrived; step", step, "done")
		return nil
	}))
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if _, err := b.Wait(context.Background()); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Println("cycles:", b.Cycles())
	// Output:
	// all three arrived; step 1 done
	// all three arrived; step 2 done
	// cycles: 2
}

// A worker process opens the barrier by name, giving the same Action as the
// creator: functions do not cross processes.
func ExampleOpen() {
	merge := func() error { return nil }
	b, err := barrier.New(4, barrier.Action(merge), barrier.Name("mpgo_example_barrier"))
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()

	// In the worker:
	w, err := barrier.Open("mpgo_example_barrier", barrier.Action(merge))
	if err != nil {
		panic(err)
	}
	defer w.Close()
	fmt.Println(w.Name(), w.Parties())
	// Output:
	// mpgo_example_barrier 4
}

// Wait returns each party's arrival index; the last to arrive gets
// Parties()-1.
func ExampleBarrier_Wait() {
	b, err := barrier.New(2)
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()

	first := make(chan int)
	go func() {
		i, _ := b.Wait(context.Background())
		first <- i
	}()
	for b.NWaiting() == 0 { // until the goroutine is waiting
		time.Sleep(time.Millisecond)
	}
	last, _ := b.Wait(context.Background())
	fmt.Println(<-first, last)
	// Output:
	// 0 1
}

// A party that gives up breaks the barrier for everyone, as in Python.
func ExampleTimeout() {
	b, err := barrier.New(2, barrier.Timeout(20*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()

	_, err = b.Wait(context.Background()) // the other party never comes
	fmt.Println(errors.Is(err, barrier.ErrBroken), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("broken:", b.Broken())
	// Output:
	// true true
	// broken: true
}

// Abort breaks the barrier; Reset makes it usable again.
func ExampleBarrier_Abort() {
	b, err := barrier.New(2)
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()

	b.Abort()
	_, err = b.Wait(context.Background())
	fmt.Println(errors.Is(err, barrier.ErrBroken), b.Status().Reason)
	b.Reset()
	fmt.Println("broken after Reset:", b.Broken())
	// Output:
	// true aborted
	// broken after Reset: false
}

// A tool reads a barrier's state from its file without opening it for use.
func ExampleInspect() {
	b, err := barrier.New(3)
	if err != nil {
		panic(err)
	}
	defer b.Unlink()
	defer b.Close()
	b.Abort()

	data, err := os.ReadFile("/dev/shm/" + b.Name())
	if err != nil {
		panic(err)
	}
	st, err := barrier.Inspect(data)
	if err != nil {
		panic(err)
	}
	fmt.Printf("parties %d, phase %s, waiting %d, reason %q\n", st.Parties, st.Phase, st.Waiting, st.Reason)
	// Output:
	// parties 3, phase broken, waiting 0, reason "aborted"
}
