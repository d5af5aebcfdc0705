// Command queue is the Queue example of Python's multiprocessing
// documentation (seed 004) in Go: a child process puts [42, None,
// 'hello'] on a queue, and the parent gets it and prints it.
//
//	go run ./examples/queue
//
// The Python original:
//
//	from multiprocessing import Process, Queue
//
//	def f(q):
//	    q.put([42, None, 'hello'])
//
//	if __name__ == '__main__':
//	    q = Queue()
//	    p = Process(target=f, args=(q,))
//	    p.start()
//	    print(q.get())    # prints "[42, None, 'hello']"
//	    p.join()
//
// The queue is passed to the child as f's argument, as in Python: a
// *pool.Queue travels as its name and arrives open in the child, which
// closes its handle when done.
//
// The item is a []any, Python's list of mixed values: the queue's codec
// carries a []any with each element's dynamic type (an int comes back an
// int, nil comes back nil) through tags of its own for the common types,
// with nothing to register, so the Go item is the Python one and prints as
// [42 <nil> hello]. A struct (struct{ N int; Nothing *int; S string })
// would do as well and costs less — about 36 ns and one allocation to
// encode and decode, against about 150 ns and three for the []any — which
// is what a queue carrying many items wants; for one item, the seed's
// shape is worth more.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/multiproc/multiproc/pool"
)

// f is registered in a package-level var, so that the child has it too.
var f = pool.Register(func(ctx context.Context, q *pool.Queue[[]any]) (struct{}, error) {
	defer q.Close()
	return struct{}{}, q.Put(ctx, []any{42, nil, "hello"})
})

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "queue:", err)
		os.Exit(1)
	}
}

func run() error {
	q, err := pool.NewQueue[[]any]()
	if err != nil {
		return err
	}
	defer q.Close()
	p, err := pool.Start(f, q)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx := context.Background()
	item, err := q.Get(ctx)
	if err != nil {
		return err
	}
	fmt.Println(item) // prints "[42 <nil> hello]"
	return p.Wait(ctx)
}
