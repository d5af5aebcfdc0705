package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/pool"
)

// The Pool and Process workloads' multiproc side and their in-process
// floors. Each is timed in the measuring process, which is the Pool's (or
// the Process's) parent: its workers are this binary re-executed by
// package pool, which is why Main is pool.Init.
//
// The task is Python's square: a trivial function, so that what is
// measured is the pool's own cost per item. The floor runs the very same
// function value, with the signature every registered function has, on
// GOMAXPROCS goroutines of this process over the same chunks: what an
// in-process worker pool costs.

// squareFunc is the task, as written for pool.Register.
var squareFunc = func(_ context.Context, x int) (int, error) { return x * x, nil }

var (
	square  = pool.Register(squareFunc)
	nothing = pool.Register(func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil })
)

// roleExit is the floor under every re-executed worker: this binary
// started in a role that exits at once (its runtime start-up, package
// initialization and dispatch, and the reap).
const roleExit = rolePrefix + "exit"

func init() { reexec.Register(roleExit, func([]string) int { return 0 }) }

// defaultChunk is the chunk size pool.Map uses when no Chunksize is given:
// Python's len/(4×workers), rounded up, but at most 64 KiB of fixed-size
// arguments (8192 ints), as package pool's cut does. The goroutine floor
// takes the same chunks.
func defaultChunk(items, workers, argBytes int) int {
	c := (items + 4*workers - 1) / (4 * workers)
	return max(1, min(c, (64<<10)/argBytes))
}

// perItem is a workload whose op is one item of a call over items items:
// a measurement of n ops runs n/items calls, n rounded up to whole calls.
type perItem struct {
	items int
	r     runner
}

func (p perItem) run(ctx context.Context, e *Env, n int, t Timer) (Result, error) {
	n = (n + p.items - 1) / p.items * p.items
	r, err := p.r.run(ctx, e, n, t)
	r.N = n
	return r, err
}

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

// checkSquares checks a call's results.
func checkSquares(out []int, n int) error {
	if len(out) != n {
		return fmt.Errorf("%d results for %d items", len(out), n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if out[i] != i*i {
			return fmt.Errorf("result %d is %d, want %d", i, out[i], i*i)
		}
	}
	return nil
}

// newPool starts a Pool of workers and waits until every one has run a
// task, so no worker's start-up falls in the timed part.
func newPool(workers int) (*pool.Pool, error) {
	p, err := pool.New(pool.Workers(workers))
	if err != nil {
		return nil, err
	}
	if _, err := square.Map(context.Background(), p, ints(4*workers), pool.Chunksize(1)); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// poolMap: Map of square over items ints on a Pool of workers, with the
// given Chunksize (0: the default); one op is one item.
func poolMap(workers, items, chunksize int) runner {
	return perItem{items, inProcess{func() (func(int) error, func(), error) {
		p, err := newPool(workers)
		if err != nil {
			return nil, nil, err
		}
		xs := ints(items)
		var opts []pool.CallOption
		if chunksize > 0 {
			opts = append(opts, pool.Chunksize(chunksize))
		}
		ctx := context.Background()
		return func(n int) error {
			for range n / items {
				out, err := square.Map(ctx, p, xs, opts...)
				if err != nil {
					return err
				}
				if err := checkSquares(out, items); err != nil {
					return err
				}
			}
			return nil
		}, func() { p.Close() }, nil
	}}}
}

// poolApply: one Apply round trip to a Pool of workers.
func poolApply(workers int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		p, err := newPool(workers)
		if err != nil {
			return nil, nil, err
		}
		ctx := context.Background()
		return func(n int) error {
			for i := range n {
				v, err := square.Apply(ctx, p, i)
				if err != nil {
					return err
				}
				if v != i*i {
					return fmt.Errorf("Apply(%d) = %d", i, v)
				}
			}
			return nil
		}, func() { p.Close() }, nil
	}}
}

// poolStartClose: pool.New(Workers(workers)) and Close, which returns once
// the workers have exited. A first pool, untimed, starts the program's
// resource tracker, as a program's first pool does once.
func poolStartClose(workers int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		cycle := func() error {
			p, err := pool.New(pool.Workers(workers))
			if err != nil {
				return err
			}
			return p.Close()
		}
		if err := cycle(); err != nil {
			return nil, nil, err
		}
		return func(n int) error {
			for range n {
				if err := cycle(); err != nil {
					return err
				}
			}
			return nil
		}, noClose, nil
	}}
}

// processStartWait: pool.Start of a function that does nothing, and Wait.
func processStartWait(daemon bool) inProcess {
	var opts []pool.StartOption
	if daemon {
		opts = append(opts, pool.Daemon())
	}
	return inProcess{func() (func(int) error, func(), error) {
		ctx := context.Background()
		cycle := func() error {
			p, err := pool.Start(nothing, struct{}{}, opts...)
			if err != nil {
				return err
			}
			return p.Wait(ctx)
		}
		if err := cycle(); err != nil { // the tracker, as for the pool
			return nil, nil, err
		}
		return func(n int) error {
			for range n {
				if err := cycle(); err != nil {
					return err
				}
			}
			return nil
		}, noClose, nil
	}}
}

// reexecExit: this binary started in a role that exits at once, and
// reaped: the floor of every re-executed worker.
func reexecExit() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		return func(n int) error {
			for range n {
				c := reexec.Command(roleExit)
				c.Cmd.Stderr = os.Stderr
				if err := c.Start(); err != nil {
					return err
				}
				if err := c.Wait(); err != nil {
					return fmt.Errorf("the %s child: %v", roleExit, err)
				}
			}
			return nil
		}, noClose, nil
	}}
}

// goPool is the in-process floor: GOMAXPROCS goroutines taking chunks
// from a channel and running the task function on each item of a chunk,
// as an in-process worker pool would.
type goPool struct {
	fn    func(context.Context, int) (int, error)
	tasks chan goChunk
	wg    sync.WaitGroup
}

// goChunk is items [lo, hi) of one call.
type goChunk struct {
	ctx    context.Context
	xs     []int
	out    []int
	lo, hi int
	call   *goCall
}

type goCall struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func newGoPool(workers int, fn func(context.Context, int) (int, error)) *goPool {
	g := &goPool{fn: fn, tasks: make(chan goChunk)}
	for range workers {
		g.wg.Go(func() {
			for c := range g.tasks {
				for i := c.lo; i < c.hi; i++ {
					v, err := g.fn(c.ctx, c.xs[i])
					if err != nil {
						c.call.once.Do(func() { c.call.err = err })
						break
					}
					c.out[i] = v
				}
				c.call.wg.Done()
			}
		})
	}
	return g
}

// Map runs the task on every item of xs, chunk items at a time, and
// returns the results in order (a fresh slice, as pool's Map).
func (g *goPool) Map(ctx context.Context, xs []int, chunk int) ([]int, error) {
	out := make([]int, len(xs))
	var call goCall
	for lo := 0; lo < len(xs); lo += chunk {
		call.wg.Add(1)
		g.tasks <- goChunk{ctx: ctx, xs: xs, out: out, lo: lo, hi: min(lo+chunk, len(xs)), call: &call}
	}
	call.wg.Wait()
	return out, call.err
}

func (g *goPool) Close() {
	close(g.tasks)
	g.wg.Wait()
}

// goroutineMap is poolMap's floor: the goroutine pool over the same
// chunks; one op is one item.
func goroutineMap(workers, items, chunksize int) runner {
	if chunksize == 0 {
		chunksize = defaultChunk(items, workers, 8)
	}
	return perItem{items, inProcess{func() (func(int) error, func(), error) {
		g := newGoPool(runtime.GOMAXPROCS(0), squareFunc)
		xs := ints(items)
		ctx := context.Background()
		return func(n int) error {
			for range n / items {
				out, err := g.Map(ctx, xs, chunksize)
				if err != nil {
					return err
				}
				if err := checkSquares(out, items); err != nil {
					return err
				}
			}
			return nil
		}, g.Close, nil
	}}}
}

// goroutineApply: one task's round trip through the goroutine pool.
func goroutineApply() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		g := newGoPool(runtime.GOMAXPROCS(0), squareFunc)
		ctx := context.Background()
		x := make([]int, 1)
		return func(n int) error {
			for i := range n {
				x[0] = i
				out, err := g.Map(ctx, x, 1)
				if err != nil {
					return err
				}
				if out[0] != i*i {
					return errors.New("the goroutine pool answered wrong")
				}
			}
			return nil
		}, g.Close, nil
	}}
}

// goroutineStartClose: the goroutine pool of workers goroutines started
// and stopped.
func goroutineStartClose(workers int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		return func(n int) error {
			for range n {
				newGoPool(workers, squareFunc).Close()
			}
			return nil
		}, noClose, nil
	}}
}
