// Command usingpool is "Using a pool of workers" from Python's
// multiprocessing documentation (seed 004) in Go: Map, ImapUnordered,
// ApplyAsync and a Get that gives up after a second, on a Pool of 4 worker
// processes.
//
//	go run ./examples/usingpool
//
// The Python original is testdata/seed.py. Line by line:
//
//	Python                                 Go
//	Pool(processes=4)                      pool.New(pool.Workers(4))
//	pool.map(f, range(10))                 f.Map(ctx, p, xs)
//	pool.imap_unordered(f, range(10))      f.ImapUnordered(ctx, p, slices.Values(xs))
//	pool.apply_async(f, (20,))             f.ApplyAsync(ctx, p, 20)
//	res.get(timeout=1)                     res.Get(ctx) with a ctx that ends in 1 s
//	except TimeoutError                    errors.Is(err, context.DeadlineExceeded)
//	os.getpid, time.sleep                  registered functions that call them
//	the end of the with block              p.Terminate()
//
// As in Python, a Get that gives up leaves the task running ("the pool
// remains available"), and a later Get may still have its result; it is
// the pool's Terminate that stops the sleeping worker, as the end of
// Python's with block does.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/multiproc/multiproc/pool"
)

var (
	f = pool.Register(func(ctx context.Context, x int) (int, error) {
		return x * x, nil
	})
	// getpid and sleep are Python's os.getpid and time.sleep: library
	// functions are registered through a function of our own.
	getpid = pool.Register(func(ctx context.Context, _ struct{}) (int, error) {
		return os.Getpid(), nil
	})
	sleep = pool.Register(func(ctx context.Context, d time.Duration) (struct{}, error) {
		time.Sleep(d)
		return struct{}{}, nil
	})
)

// get is Python's res.get(timeout).
func get[T any](res *pool.AsyncResult[T], timeout time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return res.Get(ctx)
}

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "usingpool:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	// start 4 worker processes
	p, err := pool.New(pool.Workers(4))
	if err != nil {
		return err
	}
	defer p.Terminate() // in case of an early return

	// print "[0 1 4 ... 81]"
	xs := make([]int, 10)
	for i := range xs {
		xs[i] = i
	}
	squares, err := f.Map(ctx, p, xs)
	if err != nil {
		return err
	}
	fmt.Println(squares)

	// print same numbers in arbitrary order
	for i, err := range f.ImapUnordered(ctx, p, slices.Values(xs)) {
		if err != nil {
			return err
		}
		fmt.Println(i)
	}

	// evaluate f(20) asynchronously
	res := f.ApplyAsync(ctx, p, 20) // runs in *only* one process
	v, err := get(res, time.Second)
	if err != nil {
		return err
	}
	fmt.Println(v) // prints "400"

	// evaluate os.Getpid() asynchronously
	pid, err := get(getpid.ApplyAsync(ctx, p, struct{}{}), time.Second) // runs in *only* one process
	if err != nil {
		return err
	}
	fmt.Println(pid) // prints the PID of that process

	// launching multiple evaluations asynchronously *may* use more processes
	multiple := make([]*pool.AsyncResult[int], 4)
	for i := range multiple {
		multiple[i] = getpid.ApplyAsync(ctx, p, struct{}{})
	}
	pids := make([]int, len(multiple))
	for i, res := range multiple {
		if pids[i], err = get(res, time.Second); err != nil {
			return err
		}
	}
	fmt.Println(pids)

	// make a single worker sleep for 10 seconds
	nap := sleep.ApplyAsync(ctx, p, 10*time.Second)
	if _, err := get(nap, time.Second); errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("We lacked patience and got a context.DeadlineExceeded")
	} else {
		return fmt.Errorf("the 10 s sleep, waited for 1 s: %v, want context.DeadlineExceeded", err)
	}

	// the sleeping worker holds its task; the other three take this one
	if v, err := f.Apply(ctx, p, 7); err != nil || v != 49 {
		return fmt.Errorf("f(7) while a worker sleeps: %d, %v", v, err)
	}
	fmt.Println("For the moment, the pool remains available for more work")

	// the end of Python's with block: stop the workers, the sleeping one too
	if err := p.Terminate(); err != nil {
		return err
	}
	if _, err := f.Apply(ctx, p, 7); !errors.Is(err, pool.ErrPoolClosed) {
		return fmt.Errorf("f(7) after Terminate: %v, want ErrPoolClosed", err)
	}
	fmt.Println("Now the pool is closed and no longer available")
	return nil
}
