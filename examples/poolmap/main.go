// Command poolmap is the first example of Python's multiprocessing
// documentation (seed 004) in Go: a Pool of 5 worker processes maps f over
// [1, 2, 3].
//
//	go run ./examples/poolmap
//
// The Python original:
//
//	from multiprocessing import Pool
//
//	def f(x):
//	    return x*x
//
//	if __name__ == '__main__':
//	    with Pool(5) as p:
//	        print(p.map(f, [1, 2, 3]))
//
// which prints [1, 4, 9]; Go prints the same list as [1 4 9]. The
// workers are this program started again: f is registered in a
// package-level var, so that they have it too (Python's "define such
// functions in a module so that child processes can import it"), and
// pool.Init is where a worker serves instead of running main (Python's
// __main__ guard).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/multiproc/multiproc/pool"
)

var f = pool.Register(func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "poolmap:", err)
		os.Exit(1)
	}
}

func run() error {
	p, err := pool.New(pool.Workers(5))
	if err != nil {
		return err
	}
	defer p.Close() // the end of Python's with block
	out, err := f.Map(context.Background(), p, []int{1, 2, 3})
	if err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}
