package pool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/pool"
)

// killOnce is a task that, for x == 0, SIGKILLs its own worker the first
// time it runs (it leaves a file in dir to say it did), and otherwise
// sleeps x ms and returns x.
var killOnce = pool.Register(func(ctx context.Context, a killArg) (int, error) {
	if a.X == 0 {
		mark := filepath.Join(a.Dir, "killed")
		if _, err := os.Stat(mark); err != nil {
			os.WriteFile(mark, nil, 0o600)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Hour)
		}
		return -1, nil
	}
	time.Sleep(time.Duration(a.X) * time.Millisecond)
	return a.X, nil
})

type killArg struct {
	X   int
	Dir string
}

func killArgs(dir string, n, at int) []killArg {
	xs := make([]killArg, n)
	for i := range xs {
		xs[i] = killArg{X: 5 + i%7, Dir: dir}
	}
	xs[at].X = 0
	return xs
}

// A worker SIGKILLed in the middle of a Map: the call returns with
// ErrWorkerDied for the task it held and correct results for the rest, and
// the pool serves the next call.
func TestWorkerKilledMidMap(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	xs := killArgs(t.TempDir(), 60, 23)
	out, err := killOnce.Map(ctx, p, xs, pool.Chunksize(4))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 {
		t.Fatalf("Map: %v; want one failure", err)
	}
	var wd *pool.WorkerDiedError
	if !errors.As(err, &wd) || !errors.Is(err, pool.ErrWorkerDied) || wd.Index != 23 || wd.Signal != int(syscall.SIGKILL) || wd.PID <= 0 {
		t.Fatalf("failure: %#v", me.Failed[0])
	}
	t.Logf("%v", err)
	for i, v := range out {
		if i != 23 && v != xs[i].X {
			t.Fatalf("out[%d] = %d, want %d", i, v, xs[i].X)
		}
	}
	if v, err := square.Apply(ctx, p, 9); err != nil || v != 81 {
		t.Fatalf("the next call: %d, %v", v, err)
	}
	st := p.Stats()
	failures := 0
	for _, s := range st {
		failures += s.Failures
	}
	if failures != 1 {
		t.Fatalf("stats: %+v; want one failure", st)
	}
}

// With retries, the same Map succeeds: the task runs again elsewhere.
func TestWorkerKilledRetried(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.RetryOnWorkerDeath(2))
	xs := killArgs(t.TempDir(), 60, 23)
	out, err := killOnce.Map(testCtx(t), p, xs, pool.Chunksize(4))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		want := xs[i].X
		if i == 23 {
			want = -1 // the second run finds the mark
		}
		if v != want {
			t.Fatalf("out[%d] = %d, want %d", i, v, want)
		}
	}
}

// StopOnWorkerDeath: the death stops the pool; the call and later ones
// fail with ErrWorkerDied.
func TestStopOnWorkerDeath(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.StopOnWorkerDeath())
	ctx := testCtx(t)
	_, err := killOnce.Map(ctx, p, killArgs(t.TempDir(), 20, 5), pool.Chunksize(1))
	if !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("Map: %v", err)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := square.Apply(ctx, p, 2); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("after the stop: %v", err)
	}
}

// A worker killed from outside while it sleeps in a task, many times over
// a long Map with retries: every result arrives exactly once.
func TestWorkersKilledFromOutside(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.RetryOnWorkerDeath(100))
	ctx := testCtx(t)
	xs := make([]int, 400)
	for i := range xs {
		xs[i] = 1 + i%3
	}
	done := make(chan struct{})
	kills := 0
	go func() {
		defer close(done)
		for k := 0; k < 8; k++ {
			time.Sleep(40 * time.Millisecond)
			st := p.Stats()
			if pid := st[k%len(st)].PID; pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
				kills++
			}
		}
	}()
	out, err := sleepy.Map(ctx, p, xs, pool.Chunksize(5))
	<-done
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != xs[i] {
			t.Fatalf("out[%d] = %d, want %d", i, v, xs[i])
		}
	}
	restarts := 0
	for _, s := range p.Stats() {
		restarts += s.Restarts
	}
	t.Logf("%d kills, %d restarts", kills, restarts)
}

func TestSoftTimeout(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.TaskTimeout(50*time.Millisecond))
	ctx := testCtx(t)
	out, err := sleepy.Map(ctx, p, []int{1, 10_000, 2}, pool.Chunksize(1))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Map: %v", err)
	}
	if out[0] != 1 || out[2] != 2 {
		t.Fatalf("out = %v", out)
	}
}

func TestHardTimeout(t *testing.T) {
	p := newPool(t, pool.Workers(2), pool.HardTimeout(100*time.Millisecond))
	ctx := testCtx(t)
	out, err := stubborn.Map(ctx, p, []int{1, 60_000, 2, 3, 4}, pool.Chunksize(2))
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Index != 1 || !errors.Is(err, pool.ErrTimeout) {
		t.Fatalf("Map: %v", err)
	}
	t.Logf("%v", err)
	for i, want := range []int{1, 0, 2, 3, 4} {
		if out[i] != want {
			t.Fatalf("out = %v", out)
		}
	}
	if v, err := square.Apply(ctx, p, 5); err != nil || v != 25 {
		t.Fatalf("after a hard timeout: %d, %v", v, err)
	}
}

// Cancelling a call's ctx cancels the ctx of its task running in a worker.
func TestCancelReachesRunningTask(t *testing.T) {
	p := newPool(t, pool.Workers(1))
	ctx, cancel := context.WithCancel(testCtx(t))
	mark := filepath.Join(t.TempDir(), "running")
	errc := make(chan error, 1)
	go func() {
		_, err := markThenHold.Apply(ctx, p, mark)
		errc <- err
	}()
	waitForFile(t, mark)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply after cancel: %v", err)
	}
	// The task saw its ctx end, so the one worker is free again.
	start := time.Now()
	if v, err := square.Apply(testCtx(t), p, 6); err != nil || v != 36 {
		t.Fatalf("the next call: %d, %v", v, err)
	}
	t.Logf("the worker was free again after %v", time.Since(start))
	if st := p.Stats(); st[0].Restarts != 0 {
		t.Fatalf("the worker was replaced: %+v", st)
	}
}

func TestTerminateDuringWork(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() {
		_, err := stubborn.Map(ctx, p, repeatSlice(200, 20), pool.Chunksize(1))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, pool.ErrPoolClosed) {
		t.Fatalf("Map during Terminate: %v", err)
	}
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Stats() {
		if s.PID != 0 {
			t.Fatalf("a worker runs after Terminate: %+v", s)
		}
	}
}

// Close waits for the calls in progress.
func TestCloseWaitsForWork(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	r := stubborn.MapAsync(ctx, p, repeatSlice(30, 10), pool.Chunksize(1))
	time.Sleep(10 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := r.Get(ctx)
	if err != nil || len(out) != 10 || out[9] != 30 {
		t.Fatalf("the call Close waited for: %v, %v", out, err)
	}
}

// No goroutine of the pool outlives it.
func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		p, err := pool.New(pool.Workers(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := square.Map(testCtx(t), p, []int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestProgressAndStats(t *testing.T) {
	p := newPool(t, pool.Workers(2))
	var last pool.Progress
	calls := 0
	_, err := stubborn.Map(testCtx(t), p, repeatSlice(3, 100), pool.Chunksize(1), pool.WithProgress(func(pr pool.Progress) {
		if pr.Done < last.Done {
			t.Errorf("progress went back: %+v after %+v", pr, last)
		}
		last = pr
		calls++
	}))
	if err != nil {
		t.Fatal(err)
	}
	if last.Done != 100 || last.Total != 100 || last.Failed != 0 || calls < 2 {
		t.Fatalf("last progress %+v after %d reports", last, calls)
	}
	tasks := 0
	for _, s := range p.Stats() {
		tasks += s.Tasks
		if s.PID == 0 || s.Busy <= 0 {
			t.Fatalf("stats %+v", s)
		}
	}
	if tasks != 100 {
		t.Fatalf("%d tasks in the stats", tasks)
	}
}

func repeatSlice(x, n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = x
	}
	return xs
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			if _, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return
			}
		}
	}
	t.Fatalf("%s never appeared", path)
}
