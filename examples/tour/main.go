// Command tour is the first thing to run: a guided walk through multiproc,
// each step between real OS processes. Go cannot fork, so a child is this
// program started again: pool.Start runs a registered function in it, and
// the name of an object is all the child needs to open it (a Value or a
// Queue passed as the function's argument arrives open).
//
//	go run ./examples/tour
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

// tourTimeout bounds the whole tour: a step that goes wrong fails it
// rather than hanging it.
const tourTimeout = time.Minute

func main() {
	pool.Init() // in a child, runs its function and exits
	ctx, cancel := context.WithTimeout(context.Background(), tourTimeout)
	err := run(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	fmt.Println("multiproc tour")
	for i, step := range []struct {
		title string
		run   func(context.Context) error
	}{
		{"A shared-memory segment, written by a child process", segmentStep},
		{"Python's counter: 4 processes x 1,000 increments under a lock", counterStep},
		{"A lock whose owner is SIGKILLed is recovered, not deadlocked", robustLockStep},
		{"A bounded semaphore refuses to be released too many times", semaphoreStep},
		{"A barrier for 4 processes, then an Event releases them", barrierEventStep},
		{"A Queue: 3 child processes put 1,000 items each", queueStep},
		{"A Pool of 2 worker processes, one SIGKILLed in the middle of a Map", poolStep},
		{"A SIGKILLed program leaks nothing: its tracker cleans up", trackerStep},
	} {
		fmt.Printf("\n%d. %s\n", i+1, step.title)
		if err := step.run(ctx); err != nil {
			return err
		}
	}
	fmt.Println("\ndone: every object this tour made is gone from /dev/shm.")
	return nil
}

// none is the result of a function run for its effect.
type none = struct{}

// startAll starts fn(arg) in a child process for each arg.
func startAll[In any](fn *pool.Func[In, none], args ...In) ([]*pool.Process, error) {
	var ps []*pool.Process
	for _, arg := range args {
		p, err := pool.Start(fn, arg)
		if err != nil {
			closeAll(ps)
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// waitAll waits for each child, and closes them all.
func waitAll(ctx context.Context, ps []*pool.Process) error {
	defer closeAll(ps)
	var err error
	for _, p := range ps {
		if werr := p.Wait(ctx); werr != nil {
			err = errors.Join(err, fmt.Errorf("child %d: %w", p.Pid(), werr))
		}
	}
	return err
}

func closeAll(ps []*pool.Process) {
	for _, p := range ps {
		p.Close()
	}
}

var writeGreeting = pool.Register(func(ctx context.Context, name string) (none, error) {
	seg, err := shm.Open(name)
	if err != nil {
		return none{}, err
	}
	defer seg.Close()
	copy(seg.Bytes(), fmt.Sprintf("hello from child %d", os.Getpid()))
	fmt.Printf("   child %d wrote its greeting\n", os.Getpid())
	return none{}, nil
})

func segmentStep(ctx context.Context) error {
	seg, err := shm.Create("", 4096)
	if err != nil {
		return err
	}
	defer seg.Unlink()
	defer seg.Close()
	fmt.Printf("   parent %d created /dev/shm/%s (%d bytes)\n", os.Getpid(), seg.Name(), seg.Size())
	ps, err := startAll(writeGreeting, seg.Name())
	if err != nil {
		return err
	}
	if err := waitAll(ctx, ps); err != nil {
		return err
	}
	b := seg.Bytes()
	fmt.Printf("   parent reads: %q\n", b[:strings.IndexByte(string(b), 0)])
	return nil
}

var count = pool.Register(func(ctx context.Context, counter *value.Value[int32]) (none, error) {
	defer counter.Close()
	for range 1000 {
		if err := counter.Update(func(n *int32) { *n++ }); err != nil {
			return none{}, err
		}
	}
	return none{}, nil
})

func counterStep(ctx context.Context) error {
	counter, err := value.New[int32](0)
	if err != nil {
		return err
	}
	defer counter.Close()
	ps, err := startAll(count, counter, counter, counter, counter)
	if err != nil {
		return err
	}
	if err := waitAll(ctx, ps); err != nil {
		return err
	}
	fmt.Printf("   Final counter: %d\n", counter.Load())
	return nil
}

var holdLock = pool.Register(func(ctx context.Context, name string) (none, error) {
	l, err := sem.OpenLock(name)
	if err != nil {
		return none{}, err
	}
	l.Lock()
	<-ctx.Done() // until killed (or the parent is gone)
	return none{}, ctx.Err()
})

func robustLockStep(ctx context.Context) error {
	l, err := sem.NewLock()
	if err != nil {
		return err
	}
	defer l.Unlink()
	defer l.Close()
	holder, err := pool.Start(holdLock, l.Name())
	if err != nil {
		return err
	}
	defer holder.Close()
	for !l.State().Locked { // wait until the child holds it
		if !holder.Alive() {
			return fmt.Errorf("the lock's holder ended: %v", holder.Wait(ctx))
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("   child %d holds the lock; killing it with SIGKILL\n", holder.Pid())
	killed := time.Now()
	holder.Kill()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = l.LockContext(ctx)
	if !errors.Is(err, sem.ErrOwnerDead) {
		return fmt.Errorf("LockContext = %v, want ErrOwnerDead", err)
	}
	// A waiter checks the owner's liveness before it sleeps, so a death
	// that came first costs no poll interval (one that comes while it
	// sleeps costs at most one: SetPollInterval, 100 ms by default).
	fmt.Printf("   parent took the lock over %v after the kill, the owner being dead when it asked: %v\n",
		time.Since(killed).Round(10*time.Microsecond), err)
	fmt.Println("   (it would repair the shared state here) MarkConsistent, Unlock")
	l.MarkConsistent()
	l.Unlock()
	return nil
}

var acquireRelease = pool.Register(func(ctx context.Context, name string) (none, error) {
	s, err := sem.OpenBoundedSemaphore(name)
	if err != nil {
		return none{}, err
	}
	defer s.Close()
	if err := s.Acquire(ctx); err != nil {
		return none{}, err
	}
	return none{}, s.Release()
})

func semaphoreStep(ctx context.Context) error {
	s, err := sem.NewBoundedSemaphore(2)
	if err != nil {
		return err
	}
	defer s.Unlink()
	defer s.Close()
	ps, err := startAll(acquireRelease, s.Name())
	if err != nil {
		return err
	}
	if err := waitAll(ctx, ps); err != nil {
		return err
	}
	fmt.Printf("   after a child's Acquire and Release the value is %d\n", s.Value())
	fmt.Printf("   one Release too many: %v (value still %d)\n", s.Release(), s.Value())
	return nil
}

// Names names a barrier and an event.
type Names struct{ Barrier, Event string }

var barrierThenEvent = pool.Register(func(ctx context.Context, n Names) (none, error) {
	b, err := barrier.Open(n.Barrier, barrier.Action(announce))
	if err != nil {
		return none{}, err
	}
	defer b.Close()
	if _, err := b.Wait(ctx); err != nil {
		return none{}, err
	}
	e, err := sem.OpenEvent(n.Event)
	if err != nil {
		return none{}, err
	}
	defer e.Close()
	return none{}, e.Wait(ctx)
})

func barrierEventStep(ctx context.Context) error {
	b, err := barrier.New(4, barrier.Action(announce))
	if err != nil {
		return err
	}
	defer b.Unlink()
	defer b.Close()
	start, err := sem.NewEvent()
	if err != nil {
		return err
	}
	defer start.Unlink()
	defer start.Close()
	n := Names{Barrier: b.Name(), Event: start.Name()}
	kids, err := startAll(barrierThenEvent, n, n, n)
	if err != nil {
		return err
	}
	defer closeAll(kids)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	idx, err := b.Wait(wctx)
	if err != nil {
		return err
	}
	fmt.Printf("   parent passed the barrier with arrival index %d; setting the event\n", idx)
	if err := start.Set(); err != nil {
		return err
	}
	if err := waitAll(ctx, kids); err != nil {
		return err
	}
	fmt.Println("   all 3 children saw the event and exited")
	return nil
}

// announce is the barrier's action. Functions do not cross processes, so
// every process passes it to New or Open, as Python pickles it for each.
func announce() error {
	fmt.Printf("   all 4 arrived: the action ran once, in process %d (the last to arrive)\n", os.Getpid())
	return nil
}

// An Item is what the queue step's producers put: who put it, and its
// number in that producer's sequence.
type Item struct{ From, Seq int }

// Produce is a producer's argument; the queue arrives open in the child.
type Produce struct {
	Q    *pool.Queue[Item]
	From int
	N    int
}

const queueItems = 1000

var produce = pool.Register(func(ctx context.Context, a Produce) (none, error) {
	defer a.Q.Close()
	for i := range a.N {
		if err := a.Q.Put(ctx, Item{From: a.From, Seq: i}); err != nil {
			return none{}, err
		}
	}
	return none{}, nil
})

func queueStep(ctx context.Context) error {
	q, err := pool.NewQueue[Item](pool.MaxSize(100)) // producers wait while 100 are queued
	if err != nil {
		return err
	}
	defer q.Close()
	var args []Produce
	for from := range 3 {
		args = append(args, Produce{Q: q, From: from, N: queueItems})
	}
	ps, err := startAll(produce, args...)
	if err != nil {
		return err
	}
	defer closeAll(ps)
	next := make([]int, len(args)) // each producer's next Seq
	for range len(args) * queueItems {
		it, err := q.Get(ctx)
		if err != nil {
			return err
		}
		if it.From < 0 || it.From >= len(next) || it.Seq != next[it.From] {
			return fmt.Errorf("got %+v, want item %d of a producer", it, next[it.From%len(next)])
		}
		next[it.From]++
	}
	if err := waitAll(ctx, ps); err != nil {
		return err
	}
	fmt.Printf("   the parent got all %d items, each exactly once and each child's in the order it put them\n", len(args)*queueItems)
	fmt.Println("   (at most 100 waited in the queue at a time: pool.MaxSize, Python's maxsize)")
	return nil
}

// A Task is an item of the pool step's Map. The victim's task puts its
// worker's pid on Report, which arrives open in the worker, and works
// until that worker is killed.
type Task struct {
	X      int
	Report *pool.Queue[int] // nil but for the victim
}

var slowSquare = pool.Register(func(ctx context.Context, t Task) (int, error) {
	if t.Report != nil {
		err := t.Report.Put(ctx, os.Getpid())
		t.Report.Close()
		if err != nil {
			return 0, err
		}
		time.Sleep(time.Hour) // until killed
		return 0, nil
	}
	time.Sleep(20 * time.Millisecond)
	return t.X * t.X, nil
})

func poolStep(ctx context.Context) error {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		return err
	}
	defer p.Close()

	xs := make([]Task, 10_000)
	for i := range xs {
		xs[i] = Task{X: i + 1}
	}
	out, err := square.Map(ctx, p, xs)
	if err != nil {
		return err
	}
	sum := 0
	for _, v := range out {
		sum += v
	}
	fmt.Printf("   Map of x*x over 1..10,000: the squares sum to %d, as 10000*10001*20001/6 = %d\n", sum, 10000*10001*20001/6)

	report, err := pool.NewQueue[int]()
	if err != nil {
		return err
	}
	defer report.Close()
	const victim = 17
	xs = xs[:40]
	xs[victim].Report = report
	type result struct {
		out []int
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := slowSquare.Map(ctx, p, xs)
		done <- result{out, err}
	}()
	pid, err := report.Get(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   a Map of 40 slow tasks: worker %d is running task %d; killing it with SIGKILL\n", pid, victim)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	r := <-done
	var died *pool.WorkerDiedError
	var me *pool.MapError
	if !errors.As(r.err, &me) || len(me.Failed) != 1 || !errors.As(r.err, &died) || died.Index != victim {
		return fmt.Errorf("the Map returned %v, want task %d failed with ErrWorkerDied", r.err, victim)
	}
	for i, v := range r.out {
		if i != victim && v != xs[i].X*xs[i].X {
			return fmt.Errorf("task %d: %d, want %d", i, v, xs[i].X*xs[i].X)
		}
	}
	fmt.Printf("   the Map returned: %v\n", died)
	fmt.Printf("   and the other %d results are right; a fresh worker took the dead one's place:\n", len(xs)-1)
	v, err := square.Apply(ctx, p, Task{X: 9})
	if err != nil {
		return err
	}
	restarts := 0
	for _, s := range p.Stats() {
		restarts += s.Restarts
	}
	fmt.Printf("   the next call, 9*9 = %d (workers restarted: %d)\n", v, restarts)
	return nil
}

// square is the pool step's quick function.
var square = pool.Register(func(ctx context.Context, t Task) (int, error) { return t.X * t.X, nil })

// The tracker step's victim is a program of its own, not a child of the
// tour: it starts its own resource tracker, as any program does, and the
// tour sees what that tracker says once the program is SIGKILLed. A
// pool.Process would share the tour's tracker instead (and the tour would
// clean up after it just the same), so this child is started the way
// pool starts its own: internal/reexec, in a role of its own.
const createAndHang = "tour-create-and-hang"

func init() {
	reexec.Register(createAndHang, func([]string) int {
		v, err := value.New[int64](42)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		fmt.Println(v.Name())
		time.Sleep(time.Hour) // until killed
		return 0
	})
}

func trackerStep(ctx context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return err
	}
	defer errR.Close()
	victim := reexec.Command(createAndHang)
	victim.Group = true // a program of its own
	victim.Cmd.Stdout, victim.Cmd.Stderr = outW, errW
	err = victim.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return err
	}
	defer victim.Kill()
	name, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the victim's name: %w", err)
	}
	name = strings.TrimSpace(name)
	fmt.Printf("   child %d created /dev/shm/%s; killing it with SIGKILL\n", victim.Pid(), name)
	victim.Kill()
	// The child's tracker shares its stderr, which we read: its one line
	// says what it removed, and why.
	said, err := bufio.NewReader(errR).ReadString('\n')
	switch {
	case err == nil:
		fmt.Printf("   its tracker says: %s\n", strings.TrimSpace(said))
	case err == io.EOF && said == "":
		// A kernel that cannot tell a crash from an exit: the tracker
		// removes the object silently.
		fmt.Println("   its tracker removed it")
	default:
		return err
	}
	if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s still in /dev/shm", name)
	}
	return nil
}
