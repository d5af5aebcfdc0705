// Command pipe is the Pipe example of Python's multiprocessing
// documentation (seed 004) in Go: a child process sends [42, None,
// 'hello'] down its end of a duplex pipe and closes it; the parent
// receives it at the other end and prints it.
//
//	go run ./examples/pipe
//
// The Python original:
//
//	from multiprocessing import Process, Pipe
//
//	def f(conn):
//	    conn.send([42, None, 'hello'])
//	    conn.close()
//
//	if __name__ == '__main__':
//	    parent_conn, child_conn = Pipe()
//	    p = Process(target=f, args=(child_conn,))
//	    p.start()
//	    print(parent_conn.recv())   # prints "[42, None, 'hello']"
//	    p.join()
//
// The child's end is passed as f's argument, as in Python: a *pool.Conn
// travels as its name and end, and the child that decodes it takes that
// end over (the parent's handle on it then refuses to be used, the Go form
// of Python's advice to close it in the parent). After the child's Close,
// the parent's next Recv would return io.EOF, as Python's raises EOFError.
// The item is a []any, as in examples/queue, which says why.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/multiproc/multiproc/pool"
)

// f is registered in a package-level var, so that the child has it too.
var f = pool.Register(func(ctx context.Context, conn *pool.Conn[[]any]) (struct{}, error) {
	if err := conn.Send(ctx, []any{42, nil, "hello"}); err != nil {
		conn.Close()
		return struct{}{}, err
	}
	return struct{}{}, conn.Close()
})

func main() {
	pool.Init()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
}

func run() error {
	parentConn, childConn, err := pool.Pipe[[]any](true)
	if err != nil {
		return err
	}
	defer parentConn.Close()
	defer childConn.Close()
	p, err := pool.Start(f, childConn)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx := context.Background()
	msg, err := parentConn.Recv(ctx)
	if err != nil {
		return err
	}
	fmt.Println(msg) // prints "[42 <nil> hello]"
	if err := p.Wait(ctx); err != nil {
		return err
	}
	// The child closed its end: nothing more will come.
	if _, err := parentConn.Recv(ctx); !errors.Is(err, io.EOF) {
		return fmt.Errorf("Recv after the child closed its end: %v, want io.EOF", err)
	}
	return nil
}
