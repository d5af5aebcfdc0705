package pool_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// The functions the Pool tests run in workers.
var (
	// failOdd fails on odd numbers.
	failOdd = pool.Register(func(ctx context.Context, x int) (int, error) {
		if x%2 == 1 {
			return 0, fmt.Errorf("odd %d", x)
		}
		return x, nil
	})
	// panicAt panics on 7.
	panicAt = pool.Register(func(ctx context.Context, x int) (int, error) {
		if x == 7 {
			panic(fmt.Sprintf("seven is bad (pid %d)", os.Getpid()))
		}
		return x, nil
	})
	// pid returns its worker's pid, after sleeping x ms.
	pid = pool.Register(func(ctx context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return os.Getpid(), nil
	})
	// sleepy sleeps ms ms, or until its ctx ends, returning x.
	sleepy = pool.Register(func(ctx context.Context, ms int) (int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// stubborn sleeps ms ms whatever its ctx says.
	stubborn = pool.Register(func(ctx context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	})
	// markThenHold writes its pid to the file given, then waits for its ctx.
	markThenHold = pool.Register(func(ctx context.Context, path string) (int, error) {
		os.WriteFile(path, []byte(fmt.Sprint(os.Getpid())), 0o600)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	// initialized is what setInit stored in this worker.
	initValue   atomic.Int64
	setInit     = pool.Register(func(ctx context.Context, v int64) (struct{}, error) { initValue.Store(v); return struct{}{}, nil })
	readInit    = pool.Register(func(ctx context.Context, _ int) (int64, error) { return initValue.Load(), nil })
	failingInit = pool.Register(func(ctx context.Context, _ int) (struct{}, error) { return struct{}{}, errors.New("no database") })
	// grow keeps mb more MiB alive in its worker, and returns the pid
	// and the resident bytes after.
	ballast [][]byte
	grow    = pool.Register(func(ctx context.Context, mb int) ([2]int64, error) {
		b := make([]byte, mb<<20)
		for i := range b {
			b[i] = 1
		}
		ballast = append(ballast, b)
		return [2]int64{int64(os.Getpid()), residentBytes()}, nil
	})
)

func newPool(t testing.TB, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.New(opts...)
	if err != nil {
		t.Fatalf("pool.New: %v", err)
	}
	t.Cleanup(func() {
		p.Terminate()
		proctest.CheckShm(t)
	})
	return p
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	if d, ok := t.(*testing.T); ok {
		if dl, ok := d.Deadline(); ok {
			ctx, cancel = context.WithDeadline(context.Background(), dl.Add(-5*time.Second))
		}
	}
	t.Cleanup(cancel)
	return ctx
}

func TestMapExactAndOrdered(t *testing.T) {
	for _, workers := range []int{2, 4} {
		t.Run(fmt.Sprint(workers, "workers"), func(t *testing.T) {
			p := newPool(t, pool.Workers(workers))
			xs := make([]int, 100_000)
			for i := range xs {
				xs[i] = i + 1
			}
			out, err := square.Map(testCtx(t), p, xs)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(xs) {
				t.Fatalf("%d results for %d items", len(out), len(xs))
			}
			for i, v := range out {
				if v != xs[i]*xs[i] {
					t.Fatalf("out[%d] = %d, want %d", i, v, xs[i]*xs[i])
				}
			}
			// Chunksize 1 and an odd one give the same.
			for _, cs := range []int{1, 7} {
				out, err := square.Map(testCtx(t), p, xs[:3000], pool.Chunksize(cs))
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range out {
					if v != xs[i]*xs[i] {
						t.Fatalf("chunksize %d: out[%d] = %d", cs, i, v)
					}
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := square.Map(testCtx(t), p, xs[:3]); !errors.Is(err, pool.ErrPoolClosed) || !errors.Is(err, pool.ErrClosed) {
				t.Fatalf("Map after Close: %v, want ErrPoolClosed", err)
			}
		})
	}
}

func TestMapEmptyAndApply(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	out, err := square.Map(ctx, p, nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("Map(nil) = %v, %v", out, err)
	}
	v, err := square.Apply(ctx, p, 12)
	if err != nil || v != 144 {
		t.Fatalf("Apply(12) = %d, %v", v, err)
	}
	r := square.ApplyAsync(ctx, p, 5)
	if v, err := r.Get(ctx); err != nil || v != 25 {
		t.Fatalf("ApplyAsync(5).Get = %d, %v", v, err)
	}
	if ok, err := r.Successful(); !ok || err != nil {
		t.Fatalf("Successful = %v, %v", ok, err)
	}
	m := square.MapAsync(ctx, p, []int{1, 2, 3})
	if got, err := m.Get(ctx); err != nil || !slices.Equal(got, []int{1, 4, 9}) {
		t.Fatalf("MapAsync = %v, %v", got, err)
	}
	// Python's get(timeout): the wait ends, the task goes on.
	slow := stubborn.ApplyAsync(ctx, p, 300)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := slow.Get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with a short ctx: %v", err)
	}
	if _, err := slow.Successful(); !errors.Is(err, pool.ErrNotReady) {
		t.Fatalf("Successful before ready: %v", err)
	}
	if v, err := slow.Get(ctx); err != nil || v != 300 {
		t.Fatalf("later Get = %d, %v", v, err)
	}
}

func TestTaskErrorsAndPanics(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	xs := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	out, err := failOdd.Map(ctx, p, xs, pool.Chunksize(3))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 5 {
		t.Fatalf("Map of failOdd: %v", err)
	}
	for i, e := range me.Failed {
		var te *pool.TaskError
		if !errors.As(e, &te) || te.Index != 2*i+1 || te.Message != fmt.Sprintf("odd %d", 2*i+1) || te.PID == os.Getpid() || te.PID == 0 {
			t.Fatalf("failure %d: %#v", i, e)
		}
	}
	for i, v := range out {
		if i%2 == 0 && v != i || i%2 == 1 && v != 0 {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}

	_, err = panicAt.Apply(ctx, p, 7)
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Panic || te.Stack == "" || te.Index != 0 {
		t.Fatalf("Apply of a panic: %#v", err)
	}
	t.Logf("panic: %v\nstack:\n%s", te, te.Stack)
	// The pool goes on.
	if v, err := square.Apply(ctx, p, 3); err != nil || v != 9 {
		t.Fatalf("after a panic: %d, %v", v, err)
	}
}

func TestImapUnorderedEveryResultOnce(t *testing.T) {
	p := newPool(t, pool.Workers(3))
	const n = 5000
	seen := make([]int, n+1)
	count := 0
	for v, err := range square.ImapUnordered(testCtx(t), p, countTo(n), pool.Chunksize(13)) {
		if err != nil {
			t.Fatal(err)
		}
		r := intSqrt(v)
		if r < 1 || r > n || r*r != v {
			t.Fatalf("result %d is no square of 1..%d", v, n)
		}
		seen[r]++
		count++
	}
	if count != n {
		t.Fatalf("%d results, want %d", count, n)
	}
	for i := 1; i <= n; i++ {
		if seen[i] != 1 {
			t.Fatalf("result of %d seen %d times", i, seen[i])
		}
	}
}

func TestImapOrderedWithFailures(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	i := 0
	for v, err := range failOdd.Imap(testCtx(t), p, countTo(1000)) {
		i++
		if i%2 == 1 {
			var te *pool.TaskError
			if !errors.As(err, &te) || te.Index != i-1 {
				t.Fatalf("item %d: %v, %v", i, v, err)
			}
		} else if err != nil || v != i {
			t.Fatalf("item %d: %v, %v", i, v, err)
		}
	}
	if i != 1000 {
		t.Fatalf("%d outcomes", i)
	}
}

// An endless input, stopped after a million results, runs in the memory
// of its window: the heap after it is what it was after the first
// hundred thousand.
func TestImapEndlessFlatMemory(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	endless := func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i % 1000) {
				return
			}
		}
	}
	var heapAt100k uint64
	n := 0
	for v, err := range square.Imap(testCtx(t), p, endless, pool.Chunksize(1000)) {
		if err != nil {
			t.Fatal(err)
		}
		if want := (n % 1000) * (n % 1000); v != want {
			t.Fatalf("result %d = %d, want %d", n, v, want)
		}
		n++
		if n == 100_000 {
			heapAt100k = heapInUse()
		}
		if n == 1_000_000 {
			break
		}
	}
	heapAt1M := heapInUse()
	t.Logf("heap in use: %d KiB after 100k results, %d KiB after 1M", heapAt100k>>10, heapAt1M>>10)
	if heapAt1M > heapAt100k+8<<20 {
		t.Fatalf("heap grew from %d to %d bytes between 100k and 1M results", heapAt100k, heapAt1M)
	}
}

// residentBytes is this process's resident set size.
func residentBytes() int64 {
	b, _ := os.ReadFile("/proc/self/statm")
	var size, rss int64
	fmt.Sscan(string(b), &size, &rss)
	return rss * int64(os.Getpagesize())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// Breaking out of an Imap cancels what runs, and the pool serves the next
// call.
func TestImapBreak(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	n := 0
	for _, err := range sleepy.Imap(ctx, p, repeat(50, 1000)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	start := time.Now()
	if v, err := square.Apply(ctx, p, 4); err != nil || v != 16 {
		t.Fatalf("after a break: %d, %v", v, err)
	}
	t.Logf("the next call took %v", time.Since(start))
}

func TestInitializer(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.Initializer(setInit, 42))
	out, err := readInit.Map(testCtx(t), p, make([]int, 20), pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != 42 {
			t.Fatalf("task %d saw %d, want the Initializer's 42", i, v)
		}
	}
	_, err = pool.New(pool.Workers(2), pool.Initializer(failingInit, 0))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Message != "no database" {
		t.Fatalf("New with a failing Initializer: %v", err)
	}
	proctest.CheckShm(t)
}

func TestMaxTasksPerChild(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.MaxTasksPerChild(1))
	pids, err := pid.Map(testCtx(t), p, make([]int, 12), pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, pid := range pids {
		if seen[pid] {
			t.Fatalf("worker pid %d ran two tasks: %v", pid, pids)
		}
		seen[pid] = true
	}
	out, err := square.Map(testCtx(t), p, []int{1, 2, 3, 4, 5}, pool.Chunksize(1))
	if err != nil || !slices.Equal(out, []int{1, 4, 9, 16, 25}) {
		t.Fatalf("Map = %v, %v", out, err)
	}
	var restarts int
	for _, s := range p.Stats() {
		restarts += s.Restarts
		if s.Failures != 0 {
			t.Fatalf("slot %d: %d failures from retirements", s.Slot, s.Failures)
		}
	}
	if restarts < 15 {
		t.Fatalf("%d restarts for 17 tasks on 2 workers", restarts)
	}
}

func TestMemoryLimitRecycles(t *testing.T) {
	const limit = 96 << 20
	p := newPool(t, pool.Workers(1), pool.MemoryLimit(limit))
	out, err := grow.Map(testCtx(t), p, []int{40, 40, 40, 40, 40, 40}, pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	// A worker retires after the task that took it past the limit, and
	// only then: the next task runs in a fresh process.
	recycled := 0
	for i := 1; i < len(out); i++ {
		pid, prevPID, prevRSS := out[i][0], out[i-1][0], out[i-1][1]
		if (prevRSS > limit) != (pid != prevPID) {
			t.Fatalf("task %d ran in pid %d after task %d left pid %d at %d MiB (limit %d MiB): %v",
				i, pid, i-1, prevPID, prevRSS>>20, limit>>20, out)
		}
		if pid != prevPID {
			recycled++
		}
	}
	if recycled == 0 {
		t.Fatalf("no worker was recycled: %v", out)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []pool.Option
	}{
		{"Workers(0)", []pool.Option{pool.Workers(0)}},
		{"Workers(-2)", []pool.Option{pool.Workers(-2)}},
		{"MaxTasksPerChild(-1)", []pool.Option{pool.MaxTasksPerChild(-1)}},
		{"TaskTimeout(-1)", []pool.Option{pool.TaskTimeout(-1)}},
		{"RetryOnWorkerDeath(0)", []pool.Option{pool.RetryOnWorkerDeath(0)}},
	} {
		if _, err := pool.New(tc.opts...); !errors.Is(err, pool.ErrInvalidArgument) {
			t.Errorf("New(%s): %v, want ErrInvalidArgument", tc.name, err)
		}
	}
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	if _, err := square.Map(ctx, p, []int{1}, pool.Chunksize(-1)); !errors.Is(err, pool.ErrInvalidArgument) {
		t.Errorf("Chunksize(-1): %v", err)
	}
	var nilFunc *pool.Func[int, int]
	if _, err := nilFunc.Map(ctx, p, []int{1}); !errors.Is(err, pool.ErrInvalidArgument) {
		t.Errorf("a nil Func: %v", err)
	}
	if _, err := square.Map(ctx, nil, []int{1}); !errors.Is(err, pool.ErrInvalidArgument) {
		t.Errorf("a nil Pool: %v", err)
	}
	// An argument the codec refuses: a chan inside an any.
	if _, err := anyArg.Apply(ctx, p, make(chan int)); err == nil {
		t.Errorf("a chan argument was accepted")
	} else {
		t.Logf("a chan argument: %v", err)
	}
}

func countTo(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 1; i <= n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func repeat(x, n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for range n {
			if !yield(x) {
				return
			}
		}
	}
}

func intSqrt(v int) int {
	r := 0
	for (r+1)*(r+1) <= v {
		r++
	}
	return r
}

// Results whose sizes vary (strings) and whose arguments are structs take
// the general path; failures in it keep their places.
var describe = pool.Register(func(ctx context.Context, x job) (string, error) {
	if x.Seq%5 == 4 {
		return "", fmt.Errorf("job %d refused", x.Seq)
	}
	return fmt.Sprintf("%d/%d", x.Producer, x.Seq), nil
})

func TestMapVariableSizes(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	xs := make([]job, 2000)
	for i := range xs {
		xs[i] = makeJob(i%3, i)
	}
	out, err := describe.Map(testCtx(t), p, xs, pool.Chunksize(9))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 400 {
		t.Fatalf("Map: %v", err)
	}
	for i, s := range out {
		want := fmt.Sprintf("%d/%d", i%3, i)
		if i%5 == 4 {
			want = ""
		}
		if s != want {
			t.Fatalf("out[%d] = %q, want %q", i, s, want)
		}
	}
	for k, e := range me.Failed {
		var te *pool.TaskError
		if !errors.As(e, &te) || te.Index != 5*k+4 {
			t.Fatalf("failure %d: %v", k, e)
		}
	}
}

// A queue passed in a task's argument arrives open in the worker.
type fill struct {
	Q    *pool.Queue[int]
	From int
	N    int
}

var filler = pool.Register(func(ctx context.Context, f fill) (int, error) {
	defer f.Q.Close()
	for i := range f.N {
		if err := f.Q.Put(ctx, f.From+i); err != nil {
			return i, err
		}
	}
	return f.N, nil
})

func TestQueueAsTaskArgument(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	q, err := pool.NewQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := testCtx(t)
	args := []fill{{q, 0, 100}, {q, 100, 100}, {q, 200, 100}}
	counts, err := filler.Map(ctx, p, args, pool.Chunksize(1))
	if err != nil || !slices.Equal(counts, []int{100, 100, 100}) {
		t.Fatalf("Map = %v, %v", counts, err)
	}
	seen := make([]bool, 300)
	for range 300 {
		v, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v < 0 || v >= 300 || seen[v] {
			t.Fatalf("got %d (twice, or out of range)", v)
		}
		seen[v] = true
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d items left", n)
	}
}
