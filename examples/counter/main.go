// Command counter is Python's shared-counter example (seed 003) in Go:
// four processes each add 1 to a shared counter 1,000 times under its
// lock.
//
//	go run ./examples/counter
//
// The Python original (testdata/seed.py):
//
//	counter = multiprocessing.Value('i', 0)
//	lock = multiprocessing.Lock()
//	def worker(counter, lock):
//	    for _ in range(1000):
//	        with lock:
//	            counter.value += 1
//	... 4 × Process(target=worker, args=(counter, lock)), start, join ...
//	print(f"Final counter: {counter.value}")
//
// Each worker is a pool.Process running the registered worker function;
// the counter is its argument, as in Python: a *value.Value travels as its
// name and arrives open in the child. The counter's own lock plays
// Python's separate Lock: Update holds it around the increment.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/value"
)

// worker is registered in a package-level var, so that the children have
// it too.
var worker = pool.Register(func(ctx context.Context, counter *value.Value[int32]) (struct{}, error) {
	defer counter.Close()
	for range 1000 {
		if err := counter.Update(func(n *int32) { *n++ }); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

func run() error {
	counter, err := value.New[int32](0) // Python's 'i' is a C int
	if err != nil {
		return err
	}
	defer counter.Close()

	var processes []*pool.Process
	for range 4 {
		p, err := pool.Start(worker, counter)
		if err != nil {
			return err
		}
		defer p.Close()
		processes = append(processes, p)
	}
	for _, p := range processes {
		if werr := p.Wait(context.Background()); werr != nil {
			err = errors.Join(err, fmt.Errorf("worker %d: %w", p.Pid(), werr))
		}
	}
	if err != nil {
		return err
	}
	fmt.Printf("Final counter: %d\n", counter.Load())
	return nil
}
