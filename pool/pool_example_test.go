package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/multiproc/multiproc/pool"
)

var (
	cube = pool.Register(func(ctx context.Context, x int) (int, error) { return x * x * x, nil })
	// checkEven fails on odd numbers.
	checkEven = pool.Register(func(ctx context.Context, x int) (int, error) {
		if x%2 != 0 {
			return 0, fmt.Errorf("%d is odd", x)
		}
		return x / 2, nil
	})
	// nap sleeps for its argument in ms, or until its ctx ends.
	nap = pool.Register(func(ctx context.Context, ms int) (int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// exitNow ends its worker process mid-task.
	exitNow = pool.Register(func(ctx context.Context, code int) (int, error) { os.Exit(code); return 0, nil })
)

// Python's Pool(5).map(f, [1, 2, 3]).
func ExampleFunc_Map() {
	p, err := pool.New(pool.Workers(5))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	out, err := square.Map(context.Background(), p, []int{1, 2, 3})
	fmt.Println(out, err)
	// Output: [1 4 9] <nil>
}

// A failed task does not fail the others: Map returns every result it got
// and a MapError naming the tasks that failed.
func ExampleMapError() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	out, err := checkEven.Map(context.Background(), p, []int{2, 3, 4})
	fmt.Println(out)
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Printf("task %d failed: %s\n", te.Index, te.Message)
	}
	// Output:
	// [1 0 2]
	// task 1 failed: 3 is odd
}

// Imap reads its input lazily: here an endless one, stopped after five
// results.
func ExampleFunc_Imap() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	naturals := func(yield func(int) bool) {
		for i := 1; yield(i); i++ {
		}
	}
	for v, err := range cube.Imap(context.Background(), p, naturals) {
		if err != nil || v > 125 {
			break
		}
		fmt.Println(v)
	}
	// Output:
	// 1
	// 8
	// 27
	// 64
	// 125
}

// ImapUnordered yields results as they finish.
func ExampleFunc_ImapUnordered() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	var got []int
	for v, err := range nap.ImapUnordered(context.Background(), p, slices.Values([]int{30, 1, 2})) {
		if err != nil {
			fmt.Println(err)
			return
		}
		got = append(got, v)
	}
	slices.Sort(got)
	fmt.Println(got)
	// Output: [1 2 30]
}

// Python's apply_async(f, (x,)).get(timeout=1): the wait ends, the task
// goes on.
func ExampleFunc_ApplyAsync() {
	p, err := pool.New(pool.Workers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx := context.Background()
	r := nap.ApplyAsync(ctx, p, 200)
	wait, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = r.Get(wait)
	fmt.Println("timed out:", errors.Is(err, context.DeadlineExceeded))
	v, err := r.Get(ctx)
	fmt.Println(v, err)
	// Output:
	// timed out: true
	// 200 <nil>
}

func ExampleFunc_Apply() {
	p, err := pool.New(pool.Workers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	v, err := cube.Apply(context.Background(), p, 4)
	fmt.Println(v, err)
	// Output: 64 <nil>
}

// A worker that dies fails the task it was running, and only that one;
// a fresh worker takes its place.
func ExampleWorkerDiedError() {
	p, err := pool.New(pool.Workers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx := context.Background()
	_, err = exitNow.Apply(ctx, p, 3)
	var wd *pool.WorkerDiedError
	if errors.As(err, &wd) {
		fmt.Println("lost task", wd.Index, "-", wd.Status)
	}
	v, err := cube.Apply(ctx, p, 2)
	fmt.Println(v, err)
	// Output:
	// lost task 0 - exit status 3
	// 8 <nil>
}

// Register2's handles take pairs: Python's starmap.
func ExampleRegister2_starmap() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	out, err := divide.Map(context.Background(), p, pool.Zip([]int{10, 9, 8}, []int{2, 3, 4}))
	fmt.Println(out, err)
	// Output: [5 3 2] <nil>
}

func ExampleWithProgress() {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	var last pool.Progress
	_, err = nap.Map(context.Background(), p, []int{5, 5, 5, 5}, pool.Chunksize(1),
		pool.WithProgress(func(pr pool.Progress) { last = pr }))
	fmt.Printf("%d of %d done, %d failed, %v\n", last.Done, last.Total, last.Failed, err)
	// Output: 4 of 4 done, 0 failed, <nil>
}

// An Initializer runs once in each worker, before its tasks.
func ExampleInitializer() {
	p, err := pool.New(pool.Workers(2), pool.Initializer(setInit, 7))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	v, err := readInit.Apply(context.Background(), p, 0)
	fmt.Println(v, err)
	// Output: 7 <nil>
}
