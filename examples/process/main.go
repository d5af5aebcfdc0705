// Command process is the Process example of Python's multiprocessing
// documentation (seed 004) in Go: info() in the main process, then a
// child that runs f("bob").
//
//	go run ./examples/process
//
// The Python original:
//
//	from multiprocessing import Process
//	import os
//
//	def info(title):
//	    print(title)
//	    print('module name:', __name__)
//	    print('parent process:', os.getppid())
//	    print('process id:', os.getpid())
//
//	def f(name):
//	    info('function f')
//	    print('hello', name)
//
//	if __name__ == '__main__':
//	    info('main line')
//	    p = Process(target=f, args=('bob',))
//	    p.start()
//	    p.join()
//
// pool.Init() is the Go form of the __main__ guard: the child is this
// program started again, and Init is where it runs f instead of main.
// Python's module name differs between the two (__main__, then
// __mp_main__, since spawn imports the module again under another name);
// a Go child runs the same main package, and pool.CurrentProcess().Name
// ("MainProcess", "Process-1") is what tells the two apart.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/multiproc/multiproc/pool"
)

// f is registered at package level, so that the child has it too.
var f = pool.Register(func(ctx context.Context, name string) (struct{}, error) {
	info("function f")
	fmt.Println("hello", name)
	return struct{}{}, nil
})

func info(title string) {
	fmt.Println(title)
	fmt.Println("module name:", moduleName())
	fmt.Println("parent process:", os.Getppid())
	fmt.Println("process id:", os.Getpid())
}

// moduleName is the main package's import path, Go's __name__ for it.
func moduleName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return bi.Path
	}
	return "main"
}

func main() {
	pool.Init()
	info("main line")
	p, err := pool.Start(f, "bob")
	if err != nil {
		fmt.Fprintln(os.Stderr, "process:", err)
		os.Exit(1)
	}
	defer p.Close()
	if err := p.Wait(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "process:", err)
		os.Exit(1)
	}
}
