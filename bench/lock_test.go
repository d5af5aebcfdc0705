package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gofrs/flock"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/wait"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("bench-lock-incr", roleBenchLockIncr)
	proctest.Register("bench-lock-pong", roleBenchLockPong)
}

// spins are the settings compared: none, and the default.
var spins = []time.Duration{0, wait.DefaultSpin}

// Uncontended Lock/Unlock pairs: the in-process floor (sync.Mutex), our
// cross-process locks, and gofrs/flock, the usual Go cross-process lock.

func BenchmarkUncontendedPair(b *testing.B) {
	b.Run("impl=sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("impl=sem.Lock", func(b *testing.B) {
		l, err := sem.NewLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
	})
	b.Run("impl=sem.Lock.LockContext", func(b *testing.B) {
		l, err := sem.NewLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		ctx := context.Background()
		for b.Loop() {
			if err := l.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			l.Unlock()
		}
	})
	b.Run("impl=sem.RLock", func(b *testing.B) {
		l, err := sem.NewRLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
	})
	b.Run("impl=sem.RLock.nested", func(b *testing.B) {
		// An inner pair while the goroutine already holds the RLock.
		l, err := sem.NewRLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		l.Lock()
		defer l.Unlock()
		for b.Loop() {
			l.Lock()
			l.Unlock()
		}
	})
	b.Run("impl=gofrs-flock", func(b *testing.B) {
		f := flock.New(filepath.Join(b.TempDir(), "lock"))
		defer f.Close()
		for b.Loop() {
			if err := f.Lock(); err != nil {
				b.Fatal(err)
			}
			if err := f.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// roleBenchLockIncr: kind, lock, segment, n. n increments of a plain
// counter under the lock, with spin as given.
func roleBenchLockIncr(args []string) error {
	kind, n := args[0], atoi(args[3])
	spin, _ := time.ParseDuration(args[4])
	sem.SetSpin(spin)
	seg, err := shm.Open(args[2])
	if err != nil {
		return err
	}
	defer seg.Close()
	counter := (*uint64)(unsafe.Pointer(&seg.Bytes()[0]))
	var l sync.Locker
	if kind == "Lock" {
		lk, err := sem.OpenLock(args[1])
		if err != nil {
			return err
		}
		defer lk.Close()
		l = lk
	} else {
		lk, err := sem.OpenRLock(args[1])
		if err != nil {
			return err
		}
		defer lk.Close()
		l = lk
	}
	fmt.Println("ready")
	waitGo(seg)
	for range n {
		l.Lock()
		*counter++
		l.Unlock()
	}
	fmt.Println("done")
	return nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// waitGo blocks until the parent sets the start flag (byte 8 of seg).
func waitGo(seg *shm.Segment) {
	flag := (*uint32)(unsafe.Pointer(&seg.Bytes()[8]))
	for atomic.LoadUint32(flag) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
}

// BenchmarkContendedCounter: procs processes increment one counter under
// one lock; ns/op is per increment, over all processes together (so lower
// is more throughput). The sync.Mutex rows are the in-process floor: procs
// goroutines of one process.
func BenchmarkContendedCounter(b *testing.B) {
	for _, procs := range []int{2, 4} {
		b.Run(fmt.Sprintf("kind=sync.Mutex/goroutines=%d", procs), func(b *testing.B) {
			var mu sync.Mutex
			var counter uint64
			var wg sync.WaitGroup
			per := b.N/procs + 1
			for range procs {
				wg.Go(func() {
					for range per {
						mu.Lock()
						counter++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		})
	}
	for _, kind := range []string{"Lock", "RLock"} {
		for _, procs := range []int{2, 4} {
			for _, spin := range spins {
				b.Run(fmt.Sprintf("kind=%s/procs=%d/spin=%v", kind, procs, spin), func(b *testing.B) {
					benchContended(b, kind, procs, spin)
				})
			}
		}
	}
}

func benchContended(b *testing.B, kind string, procs int, spin time.Duration) {
	seg, err := shm.Create("", 4096)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	var name string
	if kind == "Lock" {
		l, err := sem.NewLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		name = l.Name()
	} else {
		l, err := sem.NewRLock()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Unlink()
		defer l.Close()
		name = l.Name()
	}
	per := b.N/procs + 1
	cs := proctest.StartN(b, procs, "bench-lock-incr", kind, name, seg.Name(), strconv.Itoa(per), spin.String())
	for _, c := range cs {
		c.WaitLine("ready")
	}
	b.ResetTimer()
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&seg.Bytes()[8])), 1)
	for _, c := range cs {
		c.WaitLine("done")
	}
	b.StopTimer()
	for _, c := range cs {
		c.MustSucceed()
	}
	if got := *(*uint64)(unsafe.Pointer(&seg.Bytes()[0])); got != uint64(per*procs) {
		b.Fatalf("counter %d, want %d", got, per*procs)
	}
}

// roleBenchLockPong: lock, segment, n, spin. The child's side of
// BenchmarkLockHandoff.
func roleBenchLockPong(args []string) error {
	spin, _ := time.ParseDuration(args[3])
	sem.SetSpin(spin)
	l, err := sem.OpenLock(args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	seg, err := shm.Open(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	w := handoffWords(seg)
	n := uint64(atoi(args[2]))
	fmt.Println("ready")
	for i := uint64(1); i <= n; i++ {
		atomic.StoreUint64(w.childWaiting, i)
		l.Lock() // the parent holds it: wait for the handoff
		atomic.StoreUint64(w.childHas, i)
		spinUntil(w.parentWaiting, i)
		l.Unlock() // hand it back to the parent, now waiting
		spinUntil(w.parentHas, i)
	}
	return nil
}

// handoff holds the words the two sides announce their steps in, outside
// the lock: each side waits for the other to hold the lock before it locks
// again, so that neither takes it back before the handoff (barging).
type handoff struct {
	parentWaiting, childWaiting, parentHas, childHas *uint64
}

func handoffWords(seg *shm.Segment) handoff {
	b := seg.Bytes()
	w := func(off int) *uint64 { return (*uint64)(unsafe.Pointer(&b[off])) }
	return handoff{w(16), w(24), w(32), w(40)}
}

// spinUntil waits, without any lock, until *p == v. It yields the CPU
// (sched_yield) between looks: with two CPUs, a busy spinner would keep
// the other process's woken thread off the CPU for a time slice.
func spinUntil(p *uint64, v uint64) {
	for atomic.LoadUint64(p) != v {
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// BenchmarkLockHandoff measures handing a Lock to a process that is
// blocked waiting for it. The parent holds the lock, waits (outside the
// lock) until the child has announced that it is about to call Lock,
// unlocks, waits for the child to have it, and calls Lock itself; the
// child, once it has the lock, waits until the parent has announced the
// same, and unlocks. One op is two handoffs. With spin=0 the waiter always sleeps in the kernel and must be
// woken; with spin it usually catches the release while spinning.
func BenchmarkLockHandoff(b *testing.B) {
	for _, spin := range spins {
		b.Run(fmt.Sprintf("spin=%v", spin), func(b *testing.B) {
			defer sem.SetSpin(sem.SetSpin(spin))
			l, err := sem.NewLock()
			if err != nil {
				b.Fatal(err)
			}
			defer l.Unlink()
			defer l.Close()
			seg, err := shm.Create("", 4096)
			if err != nil {
				b.Fatal(err)
			}
			defer seg.Unlink()
			defer seg.Close()
			w := handoffWords(seg)
			l.Lock()
			c := proctest.Start(b, "bench-lock-pong", l.Name(), seg.Name(), strconv.Itoa(b.N), spin.String())
			c.WaitLine("ready")
			b.ResetTimer()
			for i := uint64(1); i <= uint64(b.N); i++ {
				spinUntil(w.childWaiting, i)
				l.Unlock() // to the child
				spinUntil(w.childHas, i)
				atomic.StoreUint64(w.parentWaiting, i)
				l.Lock() // back from the child
				atomic.StoreUint64(w.parentHas, i)
			}
			b.StopTimer()
			l.Unlock()
			c.MustSucceed()
		})
	}
}
