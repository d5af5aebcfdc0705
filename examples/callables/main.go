// Command callables runs each kind of function of seed 000 ("Multiprocessing
// Pool Function Types") in a child process, and shows the one kind that
// cannot go: a closure made at run time, Python's lambda and nested
// function.
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
//	def task(): ...             func task(ctx, _ struct{}) (float64, error), Register(task)
//	@staticmethod task          a package-level literal, var x = pool.Register(func ...)
//	obj.task                    RegisterMethod(CustomClass.Task).Bind(obj)
//	lambda, inner function      a closure made in main: refused, ErrNotRegistered
//
// Each task does the seed's work: draw a random value, sleep a tenth of it
// in seconds (the seed sleeps all of it), and return it; the child prints
// it. Each runs through pool.Start, one child per task; with the Pool
// (issue 11's next step) each apply below becomes fn.Apply(ctx, p, arg),
// which also brings the value back.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/multiproc/multiproc/pool"
)

// work is the seed's task body.
func work(what string) float64 {
	value := rand.Float64()
	time.Sleep(time.Duration(value * float64(100*time.Millisecond)))
	fmt.Printf("%s returned %v\n", what, value)
	return value
}

// task is a top-level function.
func task(ctx context.Context, _ struct{}) (float64, error) { return work("top-level function"), nil }

// CustomClass has a method with state. Its exported fields travel to the
// child with each call; what the method changes there does not come back
// (the seed's word of caution: "changes to the instance variables are not
// transmitted").
type CustomClass struct {
	Label string
	Calls int
}

func (c *CustomClass) Task(ctx context.Context, _ struct{}) (float64, error) {
	c.Calls++
	return work(fmt.Sprintf("method of %s (call %d in the child)", c.Label, c.Calls)), nil
}

var (
	taskFn = pool.Register(task)
	// literal is a package-level function literal: like a static method,
	// it belongs to no object, and it has a name (main.init.func1).
	literal = pool.Register(func(ctx context.Context, _ struct{}) (float64, error) {
		return work("package-level literal"), nil
	})
	method = pool.RegisterMethod((*CustomClass).Task)
)

// apply runs fn in a child and waits for it.
func apply[In, Out any](fn *pool.Func[In, Out], arg In) error {
	p, err := pool.Start(fn, arg)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Wait(context.Background())
}

func main() {
	pool.Init()
	obj := &CustomClass{Label: "obj"}
	// A closure made at run time, over main's local variables: Python's
	// lambda and nested inner function.
	prefix := "nested"
	nested := pool.Register(func(ctx context.Context, _ struct{}) (float64, error) {
		return work(prefix + " function"), nil
	})
	for _, run := range []func() error{
		func() error { return apply(taskFn, struct{}{}) },
		func() error { return apply(literal, struct{}{}) },
		func() error { return apply(method.Bind(obj), struct{}{}) },
		func() error { return apply(nested, struct{}{}) },
	} {
		if err := run(); err != nil {
			fmt.Println("refused:", err)
		}
	}
	fmt.Println("obj.Calls in the parent:", obj.Calls)
	if obj.Calls != 0 {
		os.Exit(1)
	}
}
