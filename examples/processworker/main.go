// Command processworker is seed 001's callable object in Go: a Worker
// holding constant state, whose method computes (a+b)*const over
// zip(range(20), range(100, 120)), each pair in a child process.
//
//	go run ./examples/processworker
//
// The Python original:
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
// each call, as Python pickles the Worker with each task. Here each pair
// runs in a Process of its own, and since a Process returns nothing (in
// Python too), each child stores its result in a shared Array, which the
// receiver carries by name. On a Pool, as the seed runs it, the results
// come back in order and the program is one call (examples/poolworker):
//
//	results, err := call.Bind(Worker{Const: 100}).Map(ctx, p, pool.Zip(as, bs))
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/pool"
)

// Worker is the callable object: its constant state, and Call.
type Worker struct{ Const int }

// Call is Python's __call__.
func (w Worker) Call(ctx context.Context, ab pool.Pair[int, int]) (int, error) {
	return (ab.First + ab.Second) * w.Const, nil
}

// call is what the Pool form maps (examples/poolworker).
var call = pool.RegisterMethod(Worker.Call)

// Storing is the receiver of the Process form: the Worker, and where its
// results go. An *array.Array travels as its name and arrives open.
type Storing struct {
	W       Worker
	Results *array.Array[int64]
}

// Job is one pair and its place in the results.
type Job struct {
	I  int
	AB pool.Pair[int, int]
}

// Store runs the Worker on one job and stores the result.
func (s Storing) Store(ctx context.Context, j Job) (struct{}, error) {
	r, err := s.W.Call(ctx, j.AB)
	if err == nil {
		s.Results.Set(j.I, int64(r))
	}
	return struct{}{}, err
}

var store = pool.RegisterMethod(Storing.Store)

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "processworker:", err)
		os.Exit(1)
	}
}

func run() error {
	avalues, bvalues := rangeOf(0, 20), rangeOf(100, 120)
	pairs := pool.Zip(avalues, bvalues)
	results, err := array.New[int64](len(pairs))
	if err != nil {
		return err
	}
	defer results.Close()
	fn := store.Bind(Storing{W: Worker{Const: 100}, Results: results})
	var procs []*pool.Process
	for i, ab := range pairs {
		p, err := pool.Start(fn, Job{I: i, AB: ab})
		if err != nil {
			return err
		}
		defer p.Close()
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.Wait(context.Background()); err != nil {
			return err
		}
	}
	fmt.Println(pythonList(results.Slice()))
	return nil
}

func rangeOf(from, to int) []int {
	xs := make([]int, 0, to-from)
	for x := from; x < to; x++ {
		xs = append(xs, x)
	}
	return xs
}

// pythonList prints xs as Python prints a list.
func pythonList(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
