package pool

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A Pool is Python's multiprocessing.Pool for Go: worker processes (this
// binary, started again: see Init) that run registered functions on the
// items of Map, Imap, ImapUnordered and Apply calls made on those
// functions' handles.
//
// Unlike Python's, a Pool never hangs on a dead worker. It knows which
// worker holds which task, so when a worker dies — killed, crashed, out of
// memory — exactly the tasks it had started fail with an error wrapping
// ErrWorkerDied (a *WorkerDiedError naming the task, the pid and how it
// died), the tasks it had not started yet run elsewhere, a fresh worker
// takes its place, and the pool goes on (RetryOnWorkerDeath and
// StopOnWorkerDeath choose otherwise). A call's ctx reaches its running
// tasks, which are cancelled in their workers. See the package
// documentation for the data flow and the states of tasks and workers.
//
// A Pool's methods are safe for concurrent use; any number of calls may
// run on it at once.
type Pool struct {
	opts poolOptions
	n    int // workers

	eng engine

	callIDs atomic.Uint64
	closed  atomic.Bool   // no new calls
	done    chan struct{} // closed when the pool has stopped and every worker is gone
	startup chan error    // the engine reports New's outcome once

	mu     sync.Mutex
	reason error // why the pool stopped (Terminate, StopOnWorkerDeath)
}

// New starts a pool of worker processes and returns once every worker has
// started and run the Initializer, if any. Options: Workers (default
// CPUCount()), Initializer, MaxTasksPerChild, MemoryLimit, TaskTimeout,
// HardTimeout, RetryOnWorkerDeath, StopOnWorkerDeath. Without pool.Init
// as the first line of main it returns ErrNoInit.
func New(opts ...Option) (*Pool, error) {
	var o poolOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := checkInit("pool.New"); err != nil {
		return nil, err
	}
	n := o.workers
	if !o.hasWorkers {
		n = CPUCount()
	}
	p := &Pool{opts: o, n: n, done: make(chan struct{}), startup: make(chan error, 1)}
	if o.remote != nil {
		if err := startRemote(p, o.remote); err != nil {
			return nil, err
		}
		return p, nil
	}
	l := &localEngine{p: p, calls: map[uint64]*callState{}}
	p.eng = l
	l.run()
	if err := <-p.startup; err != nil {
		<-p.done
		return nil, err
	}
	return p, nil
}

// Workers returns the number of worker processes the pool keeps.
func (p *Pool) Workers() int { return p.n }

// Close stops the pool from taking new calls (they fail with
// ErrPoolClosed), waits for the calls in progress to finish, then stops
// the workers and returns once they have exited. Close is idempotent.
func (p *Pool) Close() error { return p.shut(false) }

// Terminate stops the workers now (Python's terminate): calls in progress
// fail with ErrPoolClosed. It returns once the workers have exited.
func (p *Pool) Terminate() error { return p.shut(true) }

func (p *Pool) shut(terminate bool) error {
	p.closed.Store(true)
	p.eng.stop(terminate)
	<-p.done
	return nil
}

// Join waits until the pool's workers have exited after Close or
// Terminate (Python's join), or ctx ends.
func (p *Pool) Join(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns figures for each worker slot: its current process, the
// tasks run, the time spent working and waiting, and how many times a
// fresh process replaced the slot's.
func (p *Pool) Stats() []WorkerStats {
	return p.eng.workerStats()
}

// WorkerStats are one worker slot's figures.
type WorkerStats struct {
	Slot     int
	PID      int           // the current process (0 while none runs)
	Tasks    int           // tasks run in the slot, by all its processes
	Chunks   int           // chunks run
	Busy     time.Duration // time with a chunk in hand
	Idle     time.Duration // time waiting for one
	Restarts int           // processes that replaced the slot's first
	Failures int           // of which after a death (not a retirement)
}

// stopped returns the error a call gets on a pool that stopped.
func (p *Pool) stopped() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason != nil {
		return p.reason
	}
	return ErrPoolClosed
}

func (p *Pool) setStopped(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reason == nil {
		p.reason = err
	}
}

func (p *Pool) String() string { return fmt.Sprintf("pool of %d workers", p.n) }
