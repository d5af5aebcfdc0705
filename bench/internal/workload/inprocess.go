package workload

import (
	"context"
	"sync"
	"time"

	"github.com/multiproc/multiproc/shm"
)

// inProcess is an implementation timed in the measuring process itself:
// the uncontended pairs, creation, and the in-process floors.
type inProcess struct {
	// prepare makes what the loop needs (untimed) and returns the loop of
	// n ops and the cleanup.
	prepare func() (loop func(n int) error, closeFn func(), err error)
}

func (p inProcess) run(ctx context.Context, e *Env, n int, t Timer) (Result, error) {
	loop, closeFn, err := p.prepare()
	if err != nil {
		return Result{}, err
	}
	defer closeFn()
	t.StartTimer()
	t0 := time.Now()
	err = loop(n)
	d := time.Since(t0)
	t.StopTimer()
	if err != nil {
		return Result{}, err
	}
	return Result{NsPerOp: float64(d.Nanoseconds()) / float64(n)}, nil
}

// noClose is the cleanup of a loop that made nothing.
func noClose() {}

var trackerOnce sync.Once

// warmTracker creates and removes one tracked segment, so this process's
// resource tracker is running before a creation loop is timed: a program
// starts it once, at its first object.
func warmTracker() {
	trackerOnce.Do(func() {
		if s, err := shm.Create("", 64); err == nil {
			s.Close()
			s.Unlink()
		}
	})
}

// split runs f(i, share) in procs goroutines, the shares adding up to n,
// and waits for all of them.
func split(procs, n int, f func(i, share int) error) error {
	errs := make(chan error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		share := n/procs + btoi(i < n%procs)
		wg.Go(func() { errs <- f(i, share) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
