package pool_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/pool"
)

// Functions are registered in package-level vars, so that every process of
// the program — this one and each child, which run the same package
// initialization — has them under the same name.
var greet = pool.Register(func(ctx context.Context, name string) (struct{}, error) {
	fmt.Println("hello", name)
	return struct{}{}, nil
})

// Worker is seed 001's callable object: constant state, and a method
// that uses it.
type Worker struct{ Const int }

func (w Worker) Call(ctx context.Context, ab pool.Pair[int, int]) (int, error) {
	r := (ab.First + ab.Second) * w.Const
	fmt.Println(r)
	return r, nil
}

var call = pool.RegisterMethod(Worker.Call)

var (
	crash = pool.Register(func(ctx context.Context, msg string) (int, error) { panic(msg) })
	// sleeper runs until it is stopped.
	sleeper = pool.Register(func(ctx context.Context, _ struct{}) (struct{}, error) {
		<-ctx.Done() // never: a Process's ctx is not cancelled
		return struct{}{}, nil
	})
)

var divide = pool.Register2(func(ctx context.Context, a, b int) (int, error) {
	if b == 0 {
		return 0, errors.New("division by zero")
	}
	return a / b, nil
})

func ExampleStart() {
	// In main, pool.Init() comes first (this test binary's TestMain calls it).
	p, err := pool.Start(greet, "bob")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	if err := p.Wait(context.Background()); err != nil {
		fmt.Println(err)
	}
	code, _ := p.ExitCode()
	fmt.Println("exit code", code)
	// Output:
	// hello bob
	// exit code 0
}

func ExampleRegister() {
	// A top-level function or a package-level literal, registered in a
	// package-level var, here greet. A closure made at run time cannot
	// reach another process, and is refused at the call:
	prefix := "hi"
	closure := pool.Register(func(ctx context.Context, name string) (string, error) { return prefix + " " + name, nil })
	_, err := pool.Start(closure, "bob")
	fmt.Println(errors.Is(err, pool.ErrNotRegistered))
	// Output:
	// true
}

func ExampleRegisterMethod() {
	// call is pool.RegisterMethod(Worker.Call), at package level; the
	// receiver, with its state, is bound at run time and travels with the
	// call.
	p, _ := pool.Start(call.Bind(Worker{Const: 100}), pool.PairOf(1, 101))
	p.Wait(context.Background())
	// Output:
	// 10200
}

func ExampleRegister2() {
	// divide is pool.Register2(func(ctx, a, b int) (int, error)); its
	// handle takes a Pair, as Python's starmap takes tuples.
	p, _ := pool.Start(divide, pool.PairOf(1, 0))
	err := p.Wait(context.Background())
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Println("the task returned:", te.Message)
	}
	code, _ := p.ExitCode()
	fmt.Println("exit code", code)
	// Output:
	// the task returned: division by zero
	// exit code 1
}

func ExampleProcess_Terminate() {
	p, _ := pool.Start(sleeper, struct{}{})
	fmt.Println("alive:", p.Alive())
	p.Terminate()
	err := p.Wait(context.Background())
	code, _ := p.ExitCode()
	fmt.Println("alive:", p.Alive())
	fmt.Println("exit code", code)
	fmt.Println(errors.Is(err, pool.ErrWorkerDied))
	// Output:
	// alive: true
	// alive: false
	// exit code -15
	// true
}

func ExampleProcess_Wait() {
	p, _ := pool.Start(crash, "out of cheese")
	err := p.Wait(context.Background())
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Println("panicked:", te.Panic, te.Message)
		fmt.Println("with its stack:", te.Stack != "")
	}
	// Output:
	// panicked: true out of cheese
	// with its stack: true
}

func ExampleCurrentProcess() {
	me := pool.CurrentProcess()
	_, hasParent := pool.ParentProcess()
	fmt.Println(me.Name, hasParent)
	// Output:
	// MainProcess false
}

func ExampleCPUCount() {
	n := pool.CPUCount() // the affinity mask, lowered to a cgroup's CPU quota
	fmt.Println(n >= 1)
	// Output:
	// true
}

func ExampleZip() {
	fmt.Println(pool.Zip([]int{0, 1, 2}, []int{100, 101}))
	// Output:
	// [{0 100} {1 101}]
}
