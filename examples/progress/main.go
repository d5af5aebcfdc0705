// Command progress draws a terminal progress bar for a long Map, from the
// figures pool.WithProgress reports while the call runs, and prints each
// worker's figures from the pool's Stats after it: what Python users get
// by wrapping imap in tqdm, and mpire builds in.
//
//	go run ./examples/progress
//	go run ./examples/progress -tasks 5000 -workers 8 -work 2ms -fail 1000
//
// Each task "works" (sleeps) for about -work, longer for some items than
// others, and returns its item squared; with -fail N, every Nth task
// returns an error instead, which the bar counts and Map reports at the
// end while the other tasks go on.
//
// The bar is github.com/schollz/progressbar/v3, drawn on standard error as
// tqdm draws it, so standard output keeps only the results. WithProgress
// calls its function on the caller's goroutine at most every 50 ms and
// once at the end; Done counts tasks whose results have reached the
// parent, which they do a chunk at a time, so the Map asks for small
// chunks (Chunksize) to make the bar move smoothly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/multiproc/multiproc/pool"
)

// Task is one item and how to treat it.
type Task struct {
	X    int
	Work time.Duration
	Fail bool
}

var square = pool.Register(func(ctx context.Context, t Task) (int, error) {
	// Some items take longer: 1/3 to 5/3 of Work.
	select {
	case <-time.After(t.Work * time.Duration(1+t.X%5) / 3):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if t.Fail {
		return 0, fmt.Errorf("item %d: failed on purpose (-fail)", t.X)
	}
	return t.X * t.X, nil
})

func main() {
	pool.Init()
	tasks := flag.Int("tasks", 1000, "number of tasks")
	workers := flag.Int("workers", pool.CPUCount(), "worker processes")
	work := flag.Duration("work", 10*time.Millisecond, "about how long each task takes")
	fail := flag.Int("fail", 0, "make every Nth task fail (0: none)")
	flag.Parse()
	if err := run(*tasks, *workers, *work, *fail); err != nil {
		fmt.Fprintln(os.Stderr, "progress:", err)
		os.Exit(1)
	}
}

func run(tasks, workers int, work time.Duration, fail int) error {
	p, err := pool.New(pool.Workers(workers))
	if err != nil {
		return err
	}
	defer p.Close()

	xs := make([]Task, tasks)
	for i := range xs {
		xs[i] = Task{X: i, Work: work, Fail: fail > 0 && i%fail == fail-1}
	}
	bar := progressbar.NewOptions(tasks,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("squaring"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("tasks"),
		progressbar.OptionSetRenderBlankState(true),
	)
	failed := 0
	show := func(pr pool.Progress) {
		if pr.Failed != failed {
			failed = pr.Failed
			bar.Describe(fmt.Sprintf("squaring (%d failed)", failed))
		}
		bar.Set(pr.Done)
	}
	out, err := square.Map(context.Background(), p, xs, pool.Chunksize(4), pool.WithProgress(show))
	bar.Finish()
	fmt.Fprintln(os.Stderr)

	var me *pool.MapError
	switch {
	case errors.As(err, &me):
		fmt.Printf("%d of %d tasks failed; the first: %v\n", len(me.Failed), me.Tasks, me.Failed[0])
	case err != nil:
		return err
	}
	sum := 0
	for _, v := range out {
		sum += v
	}
	fmt.Printf("sum of the squares: %d\n", sum)
	printStats(p.Stats())
	return nil
}

// printStats prints a row for each worker slot.
func printStats(stats []pool.WorkerStats) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tpid\ttasks\tchunks\tbusy\tidle\trestarts\t")
	for _, s := range stats {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%v\t%v\t%d\t\n", s.Slot, s.PID, s.Tasks, s.Chunks,
			s.Busy.Round(time.Millisecond), s.Idle.Round(time.Millisecond), s.Restarts)
	}
	tw.Flush()
}
