// Command callables runs each kind of function of seed 000 ("Multiprocessing
// Pool Function Types"), first each in a Process of its own, then on a
// Pool, as the seed does, and shows the kinds that cannot go: a closure
// made at run time (Python's lambda and nested function) and a method
// value.
//
//	go run ./examples/callables
//
// In Python, a function reaches a worker by pickling: by name, for a
// module-level function or a static method; with a copy of its object's
// attributes, for a method; not at all for a lambda or an inner function
// (PicklingError, AttributeError: Can't pickle local object). In Go it
// reaches a worker by registration (pool.Register) in a package-level var,
// which every process of the program runs:
//
//	Python                      Go
//	def task(): ...             func task(ctx, Report) (float64, error), Register(task)
//	@staticmethod task          a package-level literal, var x = pool.Register(func ...)
//	obj.task                    RegisterMethod((*CustomClass).Task).Bind(obj)
//	lambda, inner function      a closure made in main: refused, ErrNotRegistered
//
// Each task does the seed's work: draw a random value, sleep a tenth of it
// in seconds (the seed sleeps all of it), and return it. A Process drops
// its function's result (in Python too), so there the child prints it; a
// Pool brings it back, and the parent prints it, as the seed's
// print(result.get()) does.
//
// The method's receiver travels with each call: the worker works on its
// own copy, and what the method changes in it stays there (the seed's word
// of caution: "changes to the instance variables are not transmitted"), so
// obj.Calls is still 0 in the parent at the end.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/multiproc/multiproc/pool"
)

// Report is a task's argument: whether the task prints its value in the
// process that runs it (a Process's child, whose result is dropped).
type Report bool

// work is the seed's task body.
func work(what string, report Report) float64 {
	value := rand.Float64()
	time.Sleep(time.Duration(value * float64(100*time.Millisecond)))
	if report {
		fmt.Printf("  %s returned %v\n", what, value)
	}
	return value
}

// task is a top-level function.
func task(ctx context.Context, report Report) (float64, error) {
	return work("top-level function", report), nil
}

// CustomClass has a method with state. Its exported fields travel to the
// child with each call; what the method changes there does not come back.
type CustomClass struct {
	Label string
	Calls int
}

func (c *CustomClass) Task(ctx context.Context, report Report) (float64, error) {
	c.Calls++
	return work(fmt.Sprintf("method of %s (call %d in the child)", c.Label, c.Calls), report), nil
}

var (
	taskFn = pool.Register(task)
	// literal is a package-level function literal: like a static method,
	// it belongs to no object, and it has a name (main.init.func1).
	literal = pool.Register(func(ctx context.Context, report Report) (float64, error) {
		return work("package-level literal", report), nil
	})
	method = pool.RegisterMethod((*CustomClass).Task)
)

func main() {
	pool.Init()
	obj := &CustomClass{Label: "obj"}
	// Closures made at run time, over main's local variables: Python's
	// lambda and nested inner function.
	lambda := pool.Register(func(ctx context.Context, _ Report) (float64, error) {
		time.Sleep(time.Second)
		return 0, nil
	})
	prefix := "nested"
	nested := pool.Register(func(ctx context.Context, report Report) (float64, error) {
		return work(prefix+" function", report), nil
	})
	if err := processes(obj, nested); err != nil {
		fmt.Fprintln(os.Stderr, "callables:", err)
		os.Exit(1)
	}
	if err := onPool(obj, lambda, nested); err != nil {
		fmt.Fprintln(os.Stderr, "callables:", err)
		os.Exit(1)
	}
	fmt.Println("obj.Calls in the parent:", obj.Calls)
	if obj.Calls != 0 {
		os.Exit(1)
	}
}

// A kind is a kind of function, and its handle.
type kind struct {
	what string
	fn   *pool.Func[Report, float64]
}

// processes runs each kind in a child process of its own, which prints
// the value.
func processes(obj *CustomClass, nested *pool.Func[Report, float64]) error {
	fmt.Println("Each in a Process of its own (pool.Start); the child prints what it returns:")
	for _, c := range []kind{
		{"top-level function", taskFn},
		{"package-level literal", literal},
		{"method of obj", method.Bind(obj)},
		{"nested function", nested},
	} {
		p, err := pool.Start(c.fn, true)
		if err != nil {
			fmt.Printf("  %s: refused: %v\n", c.what, err)
			continue
		}
		err = p.Wait(context.Background())
		p.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// onPool runs each kind on a Pool's worker, as the seed does, and prints
// the value that comes back.
func onPool(obj *CustomClass, lambda, nested *pool.Func[Report, float64]) error {
	fmt.Println("On a Pool (pool.New); the parent prints what comes back:")
	ctx := context.Background()
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		return err
	}
	defer p.Close()
	// The seed's first example: apply_async, then get.
	v, err := taskFn.ApplyAsync(ctx, p, false).Get(ctx)
	if err != nil {
		return err
	}
	fmt.Println("  top-level function (ApplyAsync, Get):", v)
	for _, c := range []kind{
		{"lambda", lambda},
		{"nested function", nested},
		{"method of obj", method.Bind(obj)},
		{"package-level literal (the static method)", literal},
		// Python's obj.task, word for word: a method value is bound to
		// this process's obj, which workers do not have.
		{"obj.Task, a method value", pool.Register(obj.Task)},
	} {
		v, err := c.fn.Apply(ctx, p, false)
		if err != nil {
			fmt.Printf("  %s: refused: %v\n", c.what, err)
			continue
		}
		fmt.Printf("  %s: %v\n", c.what, v)
	}
	return nil
}
