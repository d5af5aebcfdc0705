// Command noinit is a program that forgot pool.Init: Start must refuse
// with ErrNoInit, saying what to add, and start nothing.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/pool"
)

var double = pool.Register(func(ctx context.Context, x int) (int, error) { return 2 * x, nil })

func main() {
	p, err := pool.Start(double, 21)
	fmt.Println("process:", p)
	fmt.Println("is ErrNoInit:", errors.Is(err, pool.ErrNoInit))
	fmt.Println(err)
	fmt.Println("children:", len(pool.ActiveChildren()))
}
