// Command poolbasics is the Pool examples of seed 003 ("Parallelism with
// multiprocessing") in Go: a map of square over range(10), a starmap of a
// two-argument power, and a map of a function returning a record.
//
//	go run ./examples/poolbasics
//
// The Python original is testdata/seed.py. Line by line:
//
//	Python                                  Go
//	def square(x)                           var square = pool.Register(func(ctx, x int) (int, error))
//	def power(base, exponent)               var power = pool.Register2(func(ctx, base, exponent int) (int, error))
//	with Pool(4) as pool:                   p, _ := pool.New(pool.Workers(4)); defer p.Close()
//	pool.map(square, range(10))             square.Map(ctx, p, xs)
//	pool.starmap(power, [(2, 3), ...])      power.Map(ctx, p, []pool.Pair[int, int]{pool.PairOf(2, 3), ...})
//	a dict with 'log': None for n <= 0      a struct with Log *float64, nil for n <= 0
//
// The seed starts a pool for each example; one pool serves the three here,
// since a Pool runs any registered function. Go prints the lists as
// [0 1 4 ... 81] and [8 27 64].
package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/multiproc/multiproc/pool"
)

var (
	square = pool.Register(func(ctx context.Context, x int) (int, error) {
		return x * x, nil
	})
	// power takes two arguments: its handle maps over pool.Pairs, Python's
	// starmap tuples.
	power = pool.Register2(func(ctx context.Context, base, exponent int) (int, error) {
		r := 1
		for range exponent {
			r *= base
		}
		return r, nil
	})
	processNumber = pool.Register(func(ctx context.Context, n int) (Numbers, error) {
		r := Numbers{Input: n, Fib: fibonacci(min(n, 20)), Sqrt: math.Sqrt(float64(n))}
		if n > 0 {
			log := math.Log(float64(n))
			r.Log = &log
		}
		return r, nil
	})
)

// Numbers is process_number's dict: a struct's exported fields travel
// back from the worker.
type Numbers struct {
	Input int
	Fib   int
	Sqrt  float64
	Log   *float64 // nil where Python has None
}

// fibonacci is the nth Fibonacci number, computed recursively.
func fibonacci(n int) int {
	if n < 2 {
		return n
	}
	return fibonacci(n-1) + fibonacci(n-2)
}

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "poolbasics:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	p, err := pool.New(pool.Workers(4))
	if err != nil {
		return err
	}
	defer p.Close()

	xs := make([]int, 10)
	for i := range xs {
		xs[i] = i
	}
	squares, err := square.Map(ctx, p, xs)
	if err != nil {
		return err
	}
	fmt.Println(squares)
	// [0 1 4 9 16 25 36 49 64 81]

	// Pass pairs that get unpacked as arguments
	powers, err := power.Map(ctx, p, []pool.Pair[int, int]{pool.PairOf(2, 3), pool.PairOf(3, 3), pool.PairOf(4, 3)})
	if err != nil {
		return err
	}
	fmt.Println(powers)
	// [8 27 64]

	numbers := []int{10, 15, 20, 25, 30, 35, 40}
	results, err := processNumber.Map(ctx, p, numbers)
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Printf("Number: %d, Fib: %d, Sqrt: %.2f\n", r.Input, r.Fib, r.Sqrt)
	}
	return nil
}
