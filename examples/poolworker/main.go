// Command poolworker is seed 001's callable object on a Pool, as the seed
// runs it: a Worker holding constant state, whose method computes
// (a+b)*const, mapped over zip(range(20), range(100, 120)). It prints what
// the Python prints, byte for byte. (examples/processworker does the same
// with a Process a pair.)
//
//	go run ./examples/poolworker
//
// The Python original is testdata/seed.py:
//
//	class Worker(object):
//	    def __init__(self, const_value):
//	        self.const_value = const_value
//	    def __call__(self, changing_stuff):
//	        a, b = changing_stuff
//	        return (a + b) * self.const_value
//
//	fn = Worker(const_value=100)
//	with Pool() as pool:
//	    results = pool.map(fn, zip(range(20), range(100, 120)))
//	print(results)
//
// The method is registered as a method expression, pool.RegisterMethod,
// and bound to its receiver at run time: the receiver's fields travel with
// the call, as Python pickles the Worker with each task, and each worker
// decodes its own copy once per chunk. What Call might change in that copy
// stays in the worker (the seed's "all hell breaks loose" cannot happen:
// every worker has its own Worker, as with the functools.partial version).
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/multiproc/multiproc/pool"
)

// Worker is the callable object: its constant state, and Call.
type Worker struct{ Const int }

// Call is Python's __call__.
func (w Worker) Call(ctx context.Context, ab pool.Pair[int, int]) (int, error) {
	return (ab.First + ab.Second) * w.Const, nil
}

var call = pool.RegisterMethod(Worker.Call)

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "poolworker:", err)
		os.Exit(1)
	}
}

func run() error {
	avalues, bvalues := rangeOf(0, 20), rangeOf(100, 120)
	const constValue = 100

	fn := call.Bind(Worker{Const: constValue})
	zippedArgs := pool.Zip(avalues, bvalues)

	p, err := pool.New() // Pool(): a worker for each CPU this process may use
	if err != nil {
		return err
	}
	defer p.Close()
	results, err := fn.Map(context.Background(), p, zippedArgs)
	if err != nil {
		return err
	}
	fmt.Println(pythonList(results))
	return nil
}

// rangeOf is Python's range(from, to).
func rangeOf(from, to int) []int {
	xs := make([]int, 0, to-from)
	for x := from; x < to; x++ {
		xs = append(xs, x)
	}
	return xs
}

// pythonList prints xs as Python prints a list.
func pythonList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
