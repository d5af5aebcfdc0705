package hardening

// The chaos harness: a fleet of worker processes on one object, one
// SIGKILL per round, and the checks after each.
//
// A round, as the parent runs it:
//
//  1. Pick a victim. In a solo round the others park first, so the victim
//     runs alone and the parent knows afterwards exactly what it left (the
//     lock held or not); in a contended round everyone runs.
//  2. Let it run for a random time (0 to maxDelay), then SIGKILL the victim
//     and reap it.
//  3. Ask every survivor to park (finish the operation at hand and stop
//     between operations, holding nothing). A survivor that cannot, because
//     the victim left something it waits on for ever, is a deadlock: the
//     round fails at its deadline.
//  4. With everyone parked, check the kind's invariants against its
//     journal, repairing what the victim left (the parent is a taker too).
//  5. Start a replacement worker (a new id) and wait until it is ready.
//
// Workers talk to the parent through a control segment (below) and exit
// with an error, which fails the test, on any violation they see.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/shm"
)

// The control segment, in 64-bit words:
//
//	word 0  ctlStop    1: every worker exits (written by the parent)
//	word 1  ctlPause   0: run; e > 0: park, reporting e (parent)
//	word 2  ctlRunner  worker id + 1 that runs on while the others park (parent)
//	word 3  ctlRound   a round number some kinds wait on (parent)
//	word 4  ctlSetter  worker id + 1 asked to act this round (parent)
//	word 8… slots, slotWords words per worker id:
//	        +0 slotParked  the pause epoch the worker has parked for, 0 while
//	                       it runs (worker)
//	        +1 slotOps     operations the worker committed (worker)
//	        +2 slotState   kind-specific state of the worker (worker)
//	        +3 slotSeen    kind-specific: a round the worker saw (worker)
//	        +4 slotTaken   takeovers the worker made (ErrOwnerDead) (worker)
//	        +5 slotPrev    kind-specific: whom the last takeover was from (worker)
const (
	ctlStop   = 0
	ctlPause  = 1
	ctlRunner = 2
	ctlRound  = 3
	ctlSetter = 4
	ctlSlots  = 8

	slotParked = 0
	slotOps    = 1
	slotState  = 2
	slotSeen   = 3
	slotTaken  = 4
	slotPrev   = 5
	slotWords  = 8
)

// control is a view of the control segment.
type control struct {
	seg *shm.Segment
	w   []uint64
}

func words(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func newControl(t *testing.T, maxWorkers int) *control {
	t.Helper()
	seg, err := shm.Create("", 8*(ctlSlots+slotWords*maxWorkers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	return &control{seg: seg, w: words(seg.Bytes())}
}

func openControl(name string) (*control, error) {
	seg, err := shm.Open(name)
	if err != nil {
		return nil, err
	}
	return &control{seg: seg, w: words(seg.Bytes())}, nil
}

func (c *control) get(i int) uint64    { return atomic.LoadUint64(&c.w[i]) }
func (c *control) set(i int, v uint64) { atomic.StoreUint64(&c.w[i], v) }
func (c *control) slot(id, f int) int  { return ctlSlots + id*slotWords + f }
func (c *control) slotGet(id, f int) uint64 {
	if c.slot(id, f) >= len(c.w) {
		return 0
	}
	return c.get(c.slot(id, f))
}
func (c *control) slotSet(id, f int, v uint64) { c.set(c.slot(id, f), v) }
func (c *control) slotAdd(id, f int, d uint64) { atomic.AddUint64(&c.w[c.slot(id, f)], d) }
func (c *control) maxWorkers() int             { return (len(c.w) - ctlSlots) / slotWords }

// park is called by a worker between operations: if the parent asked the
// fleet to park and this worker is not the runner, it reports the epoch
// and waits until the parent asks for something else. It reports whether
// it parked, and whether the worker must stop.
func (c *control) park(id int) (parked, stop bool) {
	e := c.get(ctlPause)
	if c.get(ctlStop) != 0 {
		return false, true
	}
	if e == 0 || c.get(ctlRunner) == uint64(id)+1 {
		return false, false
	}
	c.slotSet(id, slotParked, e)
	for c.get(ctlPause) == e && c.get(ctlStop) == 0 {
		time.Sleep(200 * time.Microsecond)
	}
	c.slotSet(id, slotParked, 0) // running again
	return true, c.get(ctlStop) != 0
}

// workerStart is the start of every worker role: it opens the control
// segment named by args[0] and reads the worker id from args[1].
func workerStart(args []string) (ctl *control, me int, err error) {
	if len(args) < 2 {
		return nil, 0, fmt.Errorf("worker arguments %q: want the control segment and an id", args)
	}
	if ctl, err = openControl(args[0]); err != nil {
		return nil, 0, err
	}
	if me, err = strconv.Atoi(args[1]); err != nil {
		return nil, 0, err
	}
	return ctl, me, nil
}

// workerLoop is the rest of every chaos worker: it reports "ready", then
// runs op between parks until the parent stops the fleet, and returns op's
// first error (a violation, which fails the test). onPark, if not nil,
// runs each time the worker comes back from a park.
func workerLoop(ctl *control, me int, onPark func(), op func() error) error {
	fmt.Println("ready")
	for {
		parked, stop := ctl.park(me)
		if stop {
			return nil
		}
		if parked {
			if onPark != nil {
				onPark()
			}
			continue
		}
		if err := op(); err != nil {
			return err
		}
	}
}

// chaosKills is the number of kills a chaos test makes and the time it may
// take: MULTIPROC_CHAOS_KILLS=n asks for n kills whatever they take;
// otherwise a short run (CI) makes as many as fit in a few seconds.
func chaosKills(t *testing.T) (kills int, until time.Time) {
	if s := os.Getenv("MULTIPROC_CHAOS_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MULTIPROC_CHAOS_KILLS=%q: want a positive number", s)
		}
		return n, time.Time{}
	}
	return 1 << 30, time.Now().Add(3 * time.Second)
}

// A fleet is the parent's side of a chaos test.
type fleet struct {
	t       *testing.T
	ctl     *control
	role    string
	args    []string // the role's arguments after the control name and id
	workers map[int]worker
	dead    []int // ids of killed workers
	nextID  int
	epoch   uint64
	rng     *rand.Rand
	// pause, when set, asks the fleet to park instead of a plain store, for
	// kinds whose workers sleep on a predicate (Condition) and must be
	// woken to see it.
	pause func(epoch uint64)
	// noSolo makes every round contended, for kinds where a worker alone
	// cannot make progress (an Event round, a Barrier).
	noSolo bool
	// beforeRound, when set, runs with the fleet parked before a round's
	// workers are let go.
	beforeRound func(r *round)
}

// newFleet starts n workers of role. Every worker gets the control
// segment's name, its id and then args.
func newFleet(t *testing.T, ctl *control, n int, role string, args ...string) *fleet {
	f := &fleet{t: t, ctl: ctl, role: role, args: args, workers: map[int]worker{},
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))}
	for range n {
		f.spawn()
	}
	t.Cleanup(f.stop)
	return f
}

// spawn starts a worker with a fresh id and waits until it is ready.
func (f *fleet) spawn() int {
	f.t.Helper()
	id := f.nextID
	if id >= f.ctl.maxWorkers() {
		f.t.Fatalf("more than %d workers: the control segment is too small", f.ctl.maxWorkers())
	}
	f.nextID++
	c := proctest.Start(f.t, f.role, append([]string{f.ctl.seg.Name(), strconv.Itoa(id)}, f.args...)...)
	pid, err := proc.Lookup(c.Pid())
	if err != nil {
		f.t.Fatalf("worker %d: %v\nstderr:\n%s", id, err, c.Stderr())
	}
	w := worker{c, pid}
	// Before proctest's own cleanup (which fails a test that leaves a child
	// running): a test that failed half-way stops its workers here.
	f.t.Cleanup(func() {
		f.ctl.set(ctlStop, 1)
		f.ctl.set(ctlPause, 0)
		for end := time.Now().Add(3 * time.Second); !w.gone() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		if !w.gone() {
			c.Signal(syscall.SIGKILL)
		}
		c.Wait()
	})
	c.WaitLine("ready")
	f.workers[id] = w
	return id
}

// A worker is a live worker process.
type worker struct {
	*proctest.Child
	id proc.ID
}

// gone reports whether the worker has exited (it is not the test's to
// kill: a violation it saw, or a crash).
func (w worker) gone() bool { return !proc.AliveID(w.id) }

// ids returns the live workers' ids.
func (f *fleet) ids() []int {
	ids := make([]int, 0, len(f.workers))
	for id := range f.workers {
		ids = append(ids, id)
	}
	return ids
}

func (f *fleet) setPause(e uint64) {
	if f.pause != nil {
		f.pause(e)
		return
	}
	f.ctl.set(ctlPause, e)
}

// parkAll asks every live worker except runner (-1 for none) to park and
// waits until they have, failing the test (a deadlock, or a worker that
// exited on a violation) if they do not by the deadline.
func (f *fleet) parkAll(runner int) {
	f.t.Helper()
	f.epoch++
	e := f.epoch
	f.ctl.set(ctlRunner, uint64(runner+1))
	f.setPause(e)
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range f.ids() {
		if id == runner {
			continue
		}
		for f.ctl.slotGet(id, slotParked) != e {
			c := f.workers[id]
			if c.gone() {
				f.t.Fatalf("worker %d (pid %d) exited while the fleet parked: %v\nstderr:\n%s", id, c.Pid(), c.Wait(), c.Stderr())
			}
			if time.Now().After(deadline) {
				c.Signal(syscall.SIGQUIT)
				time.Sleep(500 * time.Millisecond)
				f.t.Fatalf("deadlock: worker %d (pid %d) did not park within 20 s after the kill (dead so far: %v)\nstderr:\n%s", id, c.Pid(), f.dead, c.Stderr())
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// resume lets every worker run.
func (f *fleet) resume() {
	f.ctl.set(ctlRunner, 0)
	f.setPause(0)
}

// running waits until the workers ids have left their park and run, so
// that a kill lands in their work, not in their wait to be let go.
func (f *fleet) running(ids ...int) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range ids {
		for f.ctl.slotGet(id, slotParked) != 0 {
			if time.Now().After(deadline) {
				f.t.Fatalf("worker %d did not start running within 20 s", id)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// kill SIGKILLs worker id after a random delay of up to maxDelay and reaps it.
func (f *fleet) kill(id int, maxDelay time.Duration) {
	f.t.Helper()
	time.Sleep(time.Duration(f.rng.Int64N(int64(maxDelay) + 1)))
	c := f.workers[id]
	if c.gone() {
		f.t.Fatalf("worker %d (pid %d) exited before its kill: %v\nstderr:\n%s", id, c.Pid(), c.Wait(), c.Stderr())
	}
	c.Kill()
	delete(f.workers, id)
	f.dead = append(f.dead, id)
}

// pick returns a random live worker's id.
func (f *fleet) pick() int {
	ids := f.ids()
	return ids[f.rng.IntN(len(ids))]
}

// stop asks every worker to exit and waits for them.
func (f *fleet) stop() {
	f.ctl.set(ctlStop, 1)
	f.setPause(0)
	for id, c := range f.workers {
		if err := c.Wait(); err != nil {
			f.t.Errorf("worker %d (pid %d): %v\nstderr:\n%s", id, c.Pid(), err, c.Stderr())
		}
	}
	f.workers = map[int]worker{}
}

// chaosRun runs rounds until the budget is spent: each round kills one
// worker (solo or contended, alternately), calls observe (if not nil) at
// once, and check with the fleet parked, then replaces the victim with a
// worker whose id has the victim's parity (kinds that give odd and even
// ids different jobs keep their balance). It returns the number of kills.
func chaosRun(t *testing.T, f *fleet, maxDelay time.Duration, observe func(r *round), check func(r round)) int {
	t.Helper()
	kills, until := chaosKills(t)
	n := 0
	for ; n < kills && (until.IsZero() || time.Now().Before(until)); n++ {
		r := round{n: n, victim: f.pick(), solo: n%2 == 0 && !f.noSolo}
		r.victimPid = f.workers[r.victim].Pid()
		if f.beforeRound != nil {
			if n == 0 {
				f.parkAll(-1)
			}
			f.beforeRound(&r)
		}
		if r.solo {
			f.parkAll(r.victim) // the others park; the victim runs alone
			f.running(r.victim)
		} else {
			f.resume()
			f.running(f.ids()...)
		}
		f.kill(r.victim, maxDelay)
		if observe != nil {
			observe(&r)
		}
		f.parkAll(-1)
		check(r)
		if f.nextID%2 != r.victim%2 {
			f.nextID++
		}
		f.spawn()
		if testing.Verbose() && (n+1)%100 == 0 {
			t.Logf("%d kills", n+1)
		}
	}
	return n
}

// A round is one kill.
type round struct {
	n         int
	victim    int // the killed worker's id
	victimPid int
	solo      bool // the victim ran alone when it was killed
	held      bool // observed: the victim died holding the object's lock
	setter    int  // Event: the worker asked to set the event
}

func (r round) String() string {
	mode := "contended"
	if r.solo {
		mode = "solo"
	}
	return fmt.Sprintf("round %d (%s, victim %d, pid %d)", r.n, mode, r.victim, r.victimPid)
}
