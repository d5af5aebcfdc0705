package workload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

// multiproc's side of the multi-process workloads: for each, a setup run
// in the measuring process (it creates the objects, tracked as any
// program's, and removes them after) and a worker role that opens them by
// name and runs the timed loop. Only the public API is used, so these keep
// measuring whatever the implementation becomes.

func init() {
	register("counter", roleCounter)
	register("handoff", roleHandoff)
	register("cond", roleCond)
	register("event", roleEvent)
	register("sem", roleSem)
	register("barrier", roleBarrier)
	register("value", roleValue)
}

// spinDefault leaves sem's spin setting alone (whatever the library's
// default is); any other spin argument is a time.Duration for sem.SetSpin.
const spinDefault = "default"

func setSpin(arg string) error {
	if arg == spinDefault {
		return nil
	}
	d, err := time.ParseDuration(arg)
	if err != nil {
		return fmt.Errorf("spin %q: %v", arg, err)
	}
	sem.SetSpin(d)
	return nil
}

// word returns the i-th uint64 of seg.
func word(seg *shm.Segment, i int) *uint64 {
	return (*uint64)(unsafe.Pointer(&seg.Bytes()[8*i]))
}

// closers collects cleanups, run in reverse.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

func (c closers) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// object is what every multiproc object has.
type object interface {
	Name() string
	Close() error
	Unlink() error
}

// own registers o's removal: Close, then Unlink.
func (c *closers) own(o object) { c.add(func() { o.Close(); o.Unlink() }) }

// newSegment makes the plain shared words a workload counts or announces
// in, outside the objects measured.
func newSegment(c *closers) (*shm.Segment, error) {
	seg, err := shm.Create("", 4096)
	if err != nil {
		return nil, err
	}
	c.own(seg)
	return seg, nil
}

// fail wraps a setup error after undoing what was made.
func fail(c closers, err error) (*shared, error) {
	c.run()
	return nil, err
}

// ---- contended counter

// setupCounter makes a lock of kind (Lock, RLock, Semaphore) and a
// segment whose first word the workers increment under it.
func setupCounter(kind, spin string) func() (*shared, error) {
	return func() (*shared, error) {
		var c closers
		seg, err := newSegment(&c)
		if err != nil {
			return fail(c, err)
		}
		var o object
		switch kind {
		case "Lock":
			o, err = sem.NewLock()
		case "RLock":
			o, err = sem.NewRLock()
		case "Semaphore":
			o, err = sem.NewSemaphore(1)
		default:
			err = fmt.Errorf("no lock kind %q", kind)
		}
		if err != nil {
			return fail(c, err)
		}
		c.own(o)
		return &shared{
			args:  []string{kind, o.Name(), seg.Name(), spin},
			check: countIs(word(seg, 0)),
			close: c.run,
		}, nil
	}
}

func countIs(p *uint64) func(n int) error {
	return func(n int) error {
		if got := atomic.LoadUint64(p); got != uint64(n) {
			return fmt.Errorf("counted %d of %d ops", got, n)
		}
		return nil
	}
}

// roleCounter: KIND NAME SEGMENT SPIN. Ops increments of a plain counter
// (not an atomic one: only the lock makes it exact) under the lock.
func roleCounter(w worker) (func() error, func(), error) {
	kind, name, segName, spin := w.Args[0], w.Args[1], w.Args[2], w.Args[3]
	if err := setSpin(spin); err != nil {
		return nil, nil, err
	}
	var c closers
	seg, err := shm.Open(segName)
	if err != nil {
		return nil, nil, err
	}
	c.add(func() { seg.Close() })
	counter := word(seg, 0)
	var lock, unlock func() error
	switch kind {
	case "Lock":
		l, err := sem.OpenLock(name)
		if err != nil {
			c.run()
			return nil, nil, err
		}
		c.add(func() { l.Close() })
		lock, unlock = func() error { l.Lock(); return nil }, func() error { l.Unlock(); return nil }
	case "RLock":
		l, err := sem.OpenRLock(name)
		if err != nil {
			c.run()
			return nil, nil, err
		}
		c.add(func() { l.Close() })
		lock, unlock = func() error { l.Lock(); return nil }, func() error { l.Unlock(); return nil }
	case "Semaphore":
		s, err := sem.OpenSemaphore(name)
		if err != nil {
			c.run()
			return nil, nil, err
		}
		c.add(func() { s.Close() })
		ctx := context.Background()
		lock, unlock = func() error { return s.Acquire(ctx) }, s.Release
	default:
		c.run()
		return nil, nil, fmt.Errorf("no lock kind %q", kind)
	}
	return func() error {
		for range w.Ops {
			if err := lock(); err != nil {
				return err
			}
			*counter = *counter + 1
			if err := unlock(); err != nil {
				return err
			}
		}
		return nil
	}, c.run, nil
}

// ---- lock handoff

func setupHandoff(spin string) func() (*shared, error) {
	return func() (*shared, error) {
		var c closers
		seg, err := newSegment(&c)
		if err != nil {
			return fail(c, err)
		}
		l, err := sem.NewLock()
		if err != nil {
			return fail(c, err)
		}
		c.own(l)
		return &shared{args: []string{l.Name(), seg.Name(), spin}, close: c.run}, nil
	}
}

// roleHandoff: LOCK SEGMENT SPIN. Worker 0 takes the lock first (and says
// so in word 4). Each side announces, outside the lock, that it is about
// to lock, and waits for the other to hold the lock before it locks again,
// so that neither takes it back before the handoff (barging): every op is
// two handoffs to a process blocked in Lock. Words: 0 worker 0 waiting,
// 1 worker 1 waiting, 2 worker 0 has it, 3 worker 1 has it.
func roleHandoff(w worker) (func() error, func(), error) {
	if err := setSpin(w.Args[2]); err != nil {
		return nil, nil, err
	}
	var c closers
	l, err := sem.OpenLock(w.Args[0])
	if err != nil {
		return nil, nil, err
	}
	c.add(func() { l.Close() })
	seg, err := shm.Open(w.Args[1])
	if err != nil {
		c.run()
		return nil, nil, err
	}
	c.add(func() { seg.Close() })
	w0wait, w1wait, w0has, w1has, started := word(seg, 0), word(seg, 1), word(seg, 2), word(seg, 3), word(seg, 4)
	n := uint64(w.Ops)
	if w.Index == 0 {
		return func() error {
			l.Lock()
			atomic.StoreUint64(started, 1)
			for i := uint64(1); i <= n; i++ {
				spinUntil(w1wait, i)
				l.Unlock() // to worker 1
				spinUntil(w1has, i)
				atomic.StoreUint64(w0wait, i)
				l.Lock() // back from worker 1
				atomic.StoreUint64(w0has, i)
			}
			l.Unlock()
			return nil
		}, c.run, nil
	}
	return func() error {
		spinUntil(started, 1)
		for i := uint64(1); i <= n; i++ {
			atomic.StoreUint64(w1wait, i)
			l.Lock() // worker 0 holds it: wait for the handoff
			atomic.StoreUint64(w1has, i)
			spinUntil(w0wait, i)
			l.Unlock() // back to worker 0, now waiting
			spinUntil(w0has, i)
		}
		return nil
	}, c.run, nil
}

// spinUntil waits, without any lock, until *p == v, yielding the CPU
// (sched_yield) between looks: on one CPU, or with the peer's thread just
// woken, a busy spinner would keep the peer off the CPU for a time slice.
func spinUntil(p *uint64, v uint64) {
	for atomic.LoadUint64(p) != v {
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// ---- condition ping-pong

// setupCond makes a Condition on a Lock (own: on its own RLock) and the
// segment holding the turn word.
func setupCond(spin string, own bool) func() (*shared, error) {
	return func() (*shared, error) {
		var c closers
		seg, err := newSegment(&c)
		if err != nil {
			return fail(c, err)
		}
		var cond *sem.Condition
		if own {
			cond, err = sem.NewCondition(nil)
		} else {
			l, lerr := sem.NewLock()
			if lerr != nil {
				return fail(c, lerr)
			}
			c.own(l)
			cond, err = sem.NewCondition(l)
		}
		if err != nil {
			return fail(c, err)
		}
		c.own(cond)
		return &shared{args: []string{cond.Name(), seg.Name(), spin}, close: c.run}, nil
	}
}

// roleCond: CONDITION SEGMENT SPIN. One op is a round trip through one
// Condition, each side waiting with the lock released: worker 0 makes the
// turn odd and notifies, worker 1 wakes, makes it even and notifies,
// worker 0 wakes. The turn word is changed and read with the lock held.
func roleCond(w worker) (func() error, func(), error) {
	if err := setSpin(w.Args[2]); err != nil {
		return nil, nil, err
	}
	var c closers
	cond, err := sem.OpenCondition(w.Args[0])
	if err != nil {
		return nil, nil, err
	}
	c.add(func() { cond.Close() })
	seg, err := shm.Open(w.Args[1])
	if err != nil {
		c.run()
		return nil, nil, err
	}
	c.add(func() { seg.Close() })
	turn := word(seg, 0)
	ctx := context.Background()
	return func() error {
		cond.Lock()
		defer cond.Unlock()
		for i := range uint64(w.Ops) {
			mine := 2*i + 1 + uint64(w.Index)
			if w.Index == 0 {
				atomic.StoreUint64(turn, mine)
				cond.Notify(1)
				if err := cond.WaitFor(ctx, func() bool { return atomic.LoadUint64(turn) == mine+1 }); err != nil {
					return err
				}
			} else {
				if err := cond.WaitFor(ctx, func() bool { return atomic.LoadUint64(turn) == mine-1 }); err != nil {
					return err
				}
				atomic.StoreUint64(turn, mine)
				cond.Notify(1)
			}
		}
		return nil
	}, c.run, nil
}

// ---- event and semaphore ping-pong

func setupPair[T object](mk func() (T, error)) func() (*shared, error) {
	return func() (*shared, error) {
		var c closers
		var names []string
		for range 2 {
			o, err := mk()
			if err != nil {
				return fail(c, err)
			}
			c.own(o)
			names = append(names, o.Name())
		}
		return &shared{args: names, close: c.run}, nil
	}
}

// roleEvent: PING PONG. Worker 0 Sets ping and Waits for pong (then
// Clears it); worker 1 Waits for ping, Clears it and Sets pong.
func roleEvent(w worker) (func() error, func(), error) {
	var c closers
	var ev [2]*sem.Event
	for i := range ev {
		e, err := sem.OpenEvent(w.Args[i])
		if err != nil {
			c.run()
			return nil, nil, err
		}
		c.add(func() { e.Close() })
		ev[i] = e
	}
	ping, pong := ev[0], ev[1]
	ctx := context.Background()
	return func() error {
		for range w.Ops {
			if w.Index == 0 {
				if err := ping.Set(); err != nil {
					return err
				}
				if err := pong.Wait(ctx); err != nil {
					return err
				}
				if err := pong.Clear(); err != nil {
					return err
				}
			} else {
				if err := ping.Wait(ctx); err != nil {
					return err
				}
				if err := ping.Clear(); err != nil {
					return err
				}
				if err := pong.Set(); err != nil {
					return err
				}
			}
		}
		return nil
	}, c.run, nil
}

// roleSem: PING PONG, two semaphores of 0. Worker 0 Releases ping and
// Acquires pong; worker 1 Acquires ping and Releases pong.
func roleSem(w worker) (func() error, func(), error) {
	var c closers
	var ss [2]*sem.Semaphore
	for i := range ss {
		s, err := sem.OpenSemaphore(w.Args[i])
		if err != nil {
			c.run()
			return nil, nil, err
		}
		c.add(func() { s.Close() })
		ss[i] = s
	}
	give, take := ss[0], ss[1]
	if w.Index == 1 {
		give, take = ss[1], ss[0]
	}
	ctx := context.Background()
	return func() error {
		for range w.Ops {
			if w.Index == 0 {
				if err := give.Release(); err != nil {
					return err
				}
			}
			if err := take.Acquire(ctx); err != nil {
				return err
			}
			if w.Index == 1 {
				if err := give.Release(); err != nil {
					return err
				}
			}
		}
		return nil
	}, c.run, nil
}

// ---- barrier

func setupBarrier(parties int) func() (*shared, error) {
	return func() (*shared, error) {
		b, err := barrier.New(parties)
		if err != nil {
			return nil, err
		}
		return &shared{args: []string{b.Name()}, close: func() { b.Close(); b.Unlink() }}, nil
	}
}

// roleBarrier: BARRIER. Ops cycles.
func roleBarrier(w worker) (func() error, func(), error) {
	b, err := barrier.Open(w.Args[0])
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	return func() error {
		for i := range w.Ops {
			if _, err := b.Wait(ctx); err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
		}
		return nil
	}, func() { b.Close() }, nil
}

// ---- value

func setupValue(op string) func() (*shared, error) {
	return func() (*shared, error) {
		v, err := value.New[int64](0)
		if err != nil {
			return nil, err
		}
		return &shared{
			args: []string{op, v.Name()},
			check: func(n int) error {
				if got := v.Load(); got != int64(n) {
					return fmt.Errorf("counted %d of %d ops", got, n)
				}
				return nil
			},
			close: func() { v.Close(); v.Unlink() },
		}, nil
	}
}

// roleValue: OP VALUE. Ops of value.Add(v, 1) (op add, lock-free) or
// v.Update(x++) (op update, under the value's lock).
func roleValue(w worker) (func() error, func(), error) {
	v, err := value.Open[int64](w.Args[1])
	if err != nil {
		return nil, nil, err
	}
	var loop func() error
	switch w.Args[0] {
	case "add":
		loop = func() error {
			for range w.Ops {
				value.Add(v, 1)
			}
			return nil
		}
	case "update":
		loop = func() error {
			for range w.Ops {
				if err := v.Update(func(x *int64) { *x++ }); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		v.Close()
		return nil, nil, errors.New("no value op " + w.Args[0])
	}
	return loop, func() { v.Close() }, nil
}
