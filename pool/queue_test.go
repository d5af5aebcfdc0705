package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("q-producer", roleQueueProducer)
	proctest.Register("q-consumer", roleQueueConsumer)
	proctest.Register("q-seed-child", roleSeedChild)
	proctest.Register("q-hold-items", roleHoldItems)
	proctest.Register("q-joinable-worker", roleJoinableWorker)
}

// job is a small struct through the default (binary) codec.
type job struct {
	Producer int
	Seq      int
	Tag      string
	Weights  []float64
}

func makeJob(p, s int) job {
	return job{Producer: p, Seq: s, Tag: strings.Repeat("x", s%13), Weights: make([]float64, s%5)}
}

func (j job) valid() bool {
	return j.Tag == strings.Repeat("x", j.Seq%13) && len(j.Weights) == j.Seq%5
}

func newQueue[T any](t testing.TB, opts ...pool.QueueOption) *pool.Queue[T] {
	t.Helper()
	proctest.CheckShm(t)
	q, err := pool.NewQueue[T](opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// q-producer NAME ID N BATCH: puts jobs ID/0..N-1.
func roleQueueProducer(args []string) error {
	q, err := pool.OpenQueue[job](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	id, _ := strconv.Atoi(args[1])
	n, _ := strconv.Atoi(args[2])
	batch, _ := strconv.Atoi(args[3])
	ctx := context.Background()
	for s := 0; s < n; s += batch {
		if batch == 1 {
			if err := q.Put(ctx, makeJob(id, s)); err != nil {
				return err
			}
			continue
		}
		var xs []job
		for i := s; i < min(s+batch, n); i++ {
			xs = append(xs, makeJob(id, i))
		}
		if err := q.PutBatch(ctx, xs); err != nil {
			return err
		}
	}
	return nil
}

// q-consumer NAME BATCH: takes jobs until the queue is shut down and
// drained; prints per producer "p count sum ordered".
func roleQueueConsumer(args []string) error {
	q, err := pool.OpenQueue[job](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	batch, _ := strconv.Atoi(args[1])
	type tally struct {
		count, sum int
		last       int
		ordered    bool
	}
	tallies := map[int]*tally{}
	ctx := context.Background()
	see := func(j job) error {
		if !j.valid() {
			return fmt.Errorf("torn job %+v", j)
		}
		tl := tallies[j.Producer]
		if tl == nil {
			tl = &tally{last: -1, ordered: true}
			tallies[j.Producer] = tl
		}
		if j.Seq <= tl.last {
			tl.ordered = false
		}
		tl.last = j.Seq
		tl.count++
		tl.sum += j.Seq
		return nil
	}
	for {
		var err error
		if batch == 1 {
			var j job
			if j, err = q.Get(ctx); err == nil {
				err = see(j)
			}
		} else {
			var js []job
			if js, err = q.GetBatch(ctx, batch); err == nil {
				for _, j := range js {
					if err = see(j); err != nil {
						break
					}
				}
			}
		}
		if errors.Is(err, pool.ErrShutDown) {
			break
		}
		if err != nil {
			return err
		}
	}
	for p, tl := range tallies {
		fmt.Printf("%d %d %d %v\n", p, tl.count, tl.sum, tl.ordered)
	}
	return nil
}

func runQueue(t *testing.T, producers, consumers, n, batch int, opts ...pool.QueueOption) {
	q := newQueue[job](t, opts...)
	var cs, ps []*proctest.Child
	for range consumers {
		cs = append(cs, proctest.Start(t, "q-consumer", q.Name(), strconv.Itoa(batch)))
	}
	for i := range producers {
		ps = append(ps, proctest.Start(t, "q-producer", q.Name(), strconv.Itoa(i), strconv.Itoa(n), strconv.Itoa(batch)))
	}
	for _, p := range ps {
		p.MustSucceed()
	}
	if err := q.Shutdown(proctest.Context(t)); err != nil {
		t.Fatal(err)
	}
	count, sum := map[int]int{}, map[int]int{}
	for _, c := range cs {
		c.MustSucceed()
		for _, line := range c.Output() {
			var p, cnt, s int
			var ordered bool
			fmt.Sscanf(line, "%d %d %d %v", &p, &cnt, &s, &ordered)
			if !ordered {
				t.Errorf("producer %d's jobs reached a consumer out of order", p)
			}
			count[p] += cnt
			sum[p] += s
		}
	}
	for p := range producers {
		if count[p] != n || sum[p] != n*(n-1)/2 {
			t.Fatalf("producer %d: %d jobs received (sum %d), want %d (sum %d)", p, count[p], sum[p], n, n*(n-1)/2)
		}
	}
}

func TestQueueTwoProducersTwoConsumers(t *testing.T) { runQueue(t, 2, 2, 100000, 1) }

func TestQueueEightByEightBatched(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	runQueue(t, 8, 8, n, 32, pool.Capacity(64<<10))
}

func TestQueueBlocksAndTimesOut(t *testing.T) {
	q := newQueue[int64](t, pool.MaxSize(2))
	ctx := context.Background()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := q.Get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on empty = %v", err)
	}
	if _, err := q.TryGet(); !errors.Is(err, pool.ErrEmpty) {
		t.Fatalf("TryGet on empty = %v", err)
	}
	q.Put(ctx, 1)
	q.Put(ctx, 2)
	if !q.Full() || q.Len() != 2 {
		t.Fatalf("Full %v Len %d", q.Full(), q.Len())
	}
	if err := q.TryPut(3); !errors.Is(err, pool.ErrFull) {
		t.Fatalf("TryPut on full = %v", err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); ccancel() }()
	if err := q.Put(cctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put on full = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Put(ctx, 3) }() // waits for room
	if v, err := q.Get(ctx); v != 1 || err != nil {
		t.Fatalf("Get = %v, %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for want := int64(2); want <= 3; want++ {
		if v, err := q.Get(ctx); v != want || err != nil {
			t.Fatalf("Get = %v, %v, want %d", v, err, want)
		}
	}
}

func TestQueueShutdownAcrossProcesses(t *testing.T) {
	q := newQueue[job](t)
	c := proctest.Start(t, "q-consumer", q.Name(), "1")
	ctx := proctest.Context(t)
	for i := range 10 {
		q.Put(ctx, makeJob(7, i))
	}
	if err := q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, makeJob(7, 10)); !errors.Is(err, pool.ErrShutDown) || !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Put after Shutdown = %v", err)
	}
	c.MustSucceed()
	if out := c.Output(); len(out) != 1 || out[0] != "7 10 45 true" {
		t.Fatalf("consumer drained %q, want the 10 jobs", out)
	}
	if !q.IsShutDown() {
		t.Fatal("IsShutDown false after Shutdown")
	}
}

// Items larger than a quarter of the ring travel in side segments; mixed
// with small ones, all arrive whole and in order, and no side segment is
// left behind.
func TestQueueCarriesItemsLargerThanItsRing(t *testing.T) {
	q := newQueue[[]byte](t, pool.Capacity(4096))
	ctx := context.Background()
	sizes := []int{10, 2000, 1 << 20, 0, 1024, 5000}
	for i, n := range sizes {
		if err := q.Put(ctx, bytes.Repeat([]byte{byte(i + 1)}, n)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range sizes {
		b, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, n)) {
			t.Fatalf("item %d: %d bytes, want %d of %d", i, len(b), n, i+1)
		}
	}
	// Batches too.
	var xs []string
	for i := range 20 {
		xs = append(xs, strings.Repeat(strconv.Itoa(i%10), i*300))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	qs := newQueue[string](t, pool.Capacity(4096))
	if err := qs.PutBatch(ctx, xs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < len(xs) {
		part, err := qs.GetBatch(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	for i := range xs {
		if got[i] != xs[i] {
			t.Fatalf("batch item %d: %d bytes, want %d", i, len(got[i]), len(xs[i]))
		}
	}
}

func TestQueueRefusesBadInput(t *testing.T) {
	proctest.CheckShm(t)
	if _, err := pool.NewQueue[func()](); !errors.Is(err, pool.ErrUnsupportedType) || !strings.Contains(err.Error(), "func()") {
		t.Errorf("NewQueue[func()] = %v", err)
	}
	q := newQueue[any](t)
	if err := q.Put(context.Background(), make(chan int)); !errors.Is(err, pool.ErrUnsupportedType) || !strings.Contains(err.Error(), "chan int") {
		t.Errorf("Put of a chan = %v", err)
	}
	if q.Len() != 0 {
		t.Errorf("a refused Put queued something")
	}
	qs := newQueue[string](t)
	if _, err := pool.OpenQueue[int32](qs.Name()); !errors.Is(err, pool.ErrTypeMismatch) || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "int32") {
		t.Errorf("OpenQueue[int32] on a queue of string = %v", err)
	}
	for _, opt := range []pool.QueueOption{pool.Capacity(-1), pool.Capacity(8), pool.MaxSize(-2)} {
		if _, err := pool.NewQueue[int](opt); !errors.Is(err, pool.ErrInvalidArgument) {
			t.Errorf("bad option: %v", err)
		}
	}
	if _, err := pool.NewQueue[int64](pool.Capacity(1024), pool.MaxSize(1000)); !errors.Is(err, pool.ErrInvalidArgument) || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("MaxSize beyond what the ring holds: %v", err)
	}
	if _, err := pool.OpenQueue[int]("mpgo_queue_not_there"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenQueue of a missing name = %v", err)
	}
	// Garbage where a queue's header should be.
	name := "mpgo_test_garbage_" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile("/dev/shm/"+name, bytes.Repeat([]byte{0xAB}, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove("/dev/shm/" + name)
	if _, err := pool.OpenQueue[int](name); !errors.Is(err, pool.ErrCorrupt) {
		t.Errorf("OpenQueue of garbage = %v", err)
	}
	// Another kind of object.
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := pool.OpenQueue[int](l.Name()); !errors.Is(err, pool.ErrKindMismatch) {
		t.Errorf("OpenQueue of a Lock = %v", err)
	}
}

func TestQueueGoroutinesAndClose(t *testing.T) {
	q := newQueue[int](t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { _, err := q.Get(ctx); errs <- err })
	}
	time.Sleep(10 * time.Millisecond)
	q.Close()
	wg.Wait()
	for range 4 {
		if err := <-errs; !errors.Is(err, pool.ErrClosed) || errors.Is(err, pool.ErrShutDown) {
			t.Fatalf("Get ended by Close = %v", err)
		}
	}
	if err := q.Put(ctx, 1); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
}

// The seed's Queue example: a child puts [42, None, 'hello'], the parent
// gets and prints it.
func roleSeedChild(args []string) error {
	q, err := pool.OpenQueue[[]any](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	return q.Put(context.Background(), []any{42, nil, "hello"})
}

func TestQueueSeedExample(t *testing.T) {
	q := newQueue[[]any](t)
	c := proctest.Start(t, "q-seed-child", q.Name())
	v, err := q.Get(proctest.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	c.MustSucceed()
	if got := fmt.Sprint(v); got != "[42 <nil> hello]" {
		t.Fatalf("got %s, want [42 <nil> hello]", got)
	}
}

// q-joinable-worker NAME: takes items and marks each done, until shut down.
func roleJoinableWorker(args []string) error {
	q, err := pool.OpenJoinableQueue[int](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	for {
		_, err := q.Get(context.Background())
		if errors.Is(err, pool.ErrShutDown) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := q.TaskDone(); err != nil {
			return err
		}
	}
}

// q-hold-items NAME K: takes K items, prints "holding", never marks them done.
func roleHoldItems(args []string) error {
	q, err := pool.OpenJoinableQueue[int](args[0])
	if err != nil {
		return err
	}
	k, _ := strconv.Atoi(args[1])
	for range k {
		if _, err := q.Get(context.Background()); err != nil {
			return err
		}
	}
	fmt.Println("holding")
	time.Sleep(time.Hour)
	return nil
}

func TestJoinableQueueJoinsAcrossProcesses(t *testing.T) {
	proctest.CheckShm(t)
	q, err := pool.NewJoinableQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := proctest.Context(t)
	ws := proctest.StartN(t, 3, "q-joinable-worker", q.Name())
	for i := range 3000 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if n := q.Unfinished(); n != 0 {
		t.Fatalf("Unfinished %d after Join", n)
	}
	if err := q.TaskDone(); !errors.Is(err, pool.ErrTaskDoneTooOften) {
		t.Fatalf("TaskDone with nothing unfinished = %v", err)
	}
	q.Shutdown(ctx)
	for _, w := range ws {
		w.MustSucceed()
	}
}

// A consumer killed holding items it took and never marked done does not
// leave Join waiting for ever: Join names it, and the next Join waits only
// for the rest.
func TestJoinReportsAConsumerThatDiedHoldingItems(t *testing.T) {
	proctest.CheckShm(t)
	defer sem.SetPollInterval(sem.SetPollInterval(20 * time.Millisecond))
	q, err := pool.NewJoinableQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := proctest.Context(t)
	for i := range 5 {
		q.Put(ctx, i)
	}
	h := proctest.Start(t, "q-hold-items", q.Name(), "3")
	h.WaitLine("holding")
	pid := h.Pid()
	h.Kill()
	// Two items are still queued: a worker takes and finishes them.
	w := proctest.Start(t, "q-joinable-worker", q.Name())
	err = q.Join(ctx)
	if !errors.Is(err, pool.ErrConsumerDied) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", pid)) || !strings.Contains(err.Error(), "3 unfinished") {
		t.Fatalf("Join = %v, want ErrConsumerDied naming pid %d and 3 items", err, pid)
	}
	if err := q.Join(ctx); err != nil {
		t.Fatalf("second Join = %v", err)
	}
	q.Shutdown(ctx)
	w.MustSucceed()
}

func TestQueueTravelsAsItsName(t *testing.T) {
	q := newQueue[int](t)
	type carrier struct {
		Q *pool.Queue[int]
		N int
	}
	outer := newQueue[carrier](t)
	ctx := context.Background()
	if err := outer.Put(ctx, carrier{Q: q, N: 5}); err != nil {
		t.Fatal(err)
	}
	got, err := outer.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Q.Close()
	if got.Q.Name() != q.Name() || got.N != 5 {
		t.Fatalf("carried %s/%d, want %s/5", got.Q.Name(), got.N, q.Name())
	}
	got.Q.Put(ctx, 99)
	if v, err := q.Get(ctx); v != 99 || err != nil {
		t.Fatalf("through the decoded handle: %v, %v", v, err)
	}
}
