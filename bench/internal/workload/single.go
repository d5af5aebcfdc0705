package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

// multiproc's single-process workloads, timed in the measuring process:
// uncontended pairs, creation and opening, and the barrier among
// goroutines.

func lockPairs(ctxForm bool) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		l, err := sem.NewLock()
		if err != nil {
			return nil, nil, err
		}
		if ctxForm {
			ctx := context.Background()
			return func(n int) error {
				for range n {
					if err := l.LockContext(ctx); err != nil {
						return err
					}
					l.Unlock()
				}
				return nil
			}, func() { l.Close(); l.Unlink() }, nil
		}
		return func(n int) error {
			for range n {
				l.Lock()
				l.Unlock()
			}
			return nil
		}, func() { l.Close(); l.Unlink() }, nil
	}}
}

// rlockPairs: outermost pairs, or (nested) inner pairs while the
// goroutine already holds the RLock.
func rlockPairs(nested bool) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		l, err := sem.NewRLock()
		if err != nil {
			return nil, nil, err
		}
		closeFn := func() { l.Close(); l.Unlink() }
		if nested {
			l.Lock()
			closeFn = func() { l.Unlock(); l.Close(); l.Unlink() }
		}
		return func(n int) error {
			for range n {
				l.Lock()
				l.Unlock()
			}
			return nil
		}, closeFn, nil
	}}
}

func semaphorePairs(try bool) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		s, err := sem.NewSemaphore(1)
		if err != nil {
			return nil, nil, err
		}
		closeFn := func() { s.Close(); s.Unlink() }
		if try {
			return func(n int) error {
				for range n {
					if !s.TryAcquire() {
						return errors.New("TryAcquire found no token")
					}
					if err := s.Release(); err != nil {
						return err
					}
				}
				return nil
			}, closeFn, nil
		}
		ctx := context.Background()
		return func(n int) error {
			for range n {
				if err := s.Acquire(ctx); err != nil {
					return err
				}
				if err := s.Release(); err != nil {
					return err
				}
			}
			return nil
		}, closeFn, nil
	}}
}

// flockPairs is gofrs/flock, the usual Go cross-process lock (flock(2) on
// a file), for scale.
func flockPairs() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		dir, err := os.MkdirTemp("", "multiproc-bench-flock-")
		if err != nil {
			return nil, nil, err
		}
		f := flock.New(filepath.Join(dir, "lock"))
		return func(n int) error {
				for range n {
					if err := f.Lock(); err != nil {
						return err
					}
					if err := f.Unlock(); err != nil {
						return err
					}
				}
				return nil
			}, func() {
				f.Close()
				os.RemoveAll(dir)
			}, nil
	}}
}

// creates times n rounds of make (create, then close and remove). The
// process's tracker is started first.
func creates(mk func() (object, error)) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		warmTracker()
		return func(n int) error {
			for range n {
				o, err := mk()
				if err != nil {
					return err
				}
				if err := o.Close(); err != nil {
					return err
				}
				if err := o.Unlink(); err != nil {
					return err
				}
			}
			return nil
		}, noClose, nil
	}}
}

func persistent(on bool) []shm.Option {
	if on {
		return []shm.Option{shm.Persistent()}
	}
	return nil
}

func createSegment(size int, persist bool) inProcess {
	opts := persistent(persist)
	return creates(func() (object, error) { return shm.Create("", size, opts...) })
}

func createLock(persist bool) inProcess {
	var opts []sem.Option
	if persist {
		opts = append(opts, sem.Persistent())
	}
	return creates(func() (object, error) { return sem.NewLock(opts...) })
}

func createSemaphore() inProcess {
	return creates(func() (object, error) { return sem.NewSemaphore(1) })
}

func createValue() inProcess {
	return creates(func() (object, error) { return value.New[int64](0) })
}

// openSegment times n rounds of Open and Close of one segment of size.
func openSegment(size int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		seg, err := shm.Create("", size)
		if err != nil {
			return nil, nil, err
		}
		name := seg.Name()
		return func(n int) error {
			for range n {
				s, err := shm.Open(name)
				if err != nil {
					return err
				}
				if err := s.Close(); err != nil {
					return err
				}
			}
			return nil
		}, func() { seg.Close(); seg.Unlink() }, nil
	}}
}

// barrierGoroutines is one multiproc Barrier whose parties are goroutines
// of this process: the protocol's cost without process switches.
func barrierGoroutines(parties int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		b, err := barrier.New(parties)
		if err != nil {
			return nil, nil, err
		}
		ctx := context.Background()
		return func(n int) error {
			return split(parties, parties*n, func(i, _ int) error {
				for c := range n {
					if _, err := b.Wait(ctx); err != nil {
						return fmt.Errorf("party %d, cycle %d: %w", i, c, err)
					}
				}
				return nil
			})
		}, func() { b.Close(); b.Unlink() }, nil
	}}
}
