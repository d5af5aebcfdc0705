// Command registerinmain registers a function in main, before pool.Init:
// its workers would not have it, and Start must say so in the parent.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/pool"
)

var atInit = pool.Register(func(ctx context.Context, x int) (int, error) { return x, nil })

func main() {
	inMain := pool.Register(func(ctx context.Context, x int) (int, error) { return x, nil })
	pool.Init()
	_, err := pool.Start(inMain, 1)
	fmt.Println("is ErrNotRegistered:", errors.Is(err, pool.ErrNotRegistered))
	fmt.Println(err)
	p, err := pool.Start(atInit, 1)
	if err == nil {
		err = p.Wait(context.Background())
	}
	fmt.Println("registered at init:", err)
}
