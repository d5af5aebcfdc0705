package hardening

// Chaos for Queue and JoinableQueue, through the public API: producers
// (even ids) and consumers (odd ids) in worker processes put and take
// items — one at a time, without waiting, and in batches, some items in
// side segments — and the parent SIGKILLs one per round. Half the rounds
// kill after a random delay; in the other half the victim is armed and
// dies in the codec, at the worst moment (queue_journal_test.go). After
// each kill, with the survivors parked, the parent settles the victim's
// operation exactly from the journal and the queue's own counts, and for
// a JoinableQueue whose dead consumer held items, Join must name it and
// its count. At the end the parent drains the queue and checks every item:
// taken exactly once if it was committed, never if not, except exactly
// the items lost with a killed consumer; and nothing is left in /dev/shm
// but what those deaths explain.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("chaos-queue", queueWorker)
}

// ctlArm is the control word naming the worker (id + 1) that must die in
// the codec (its slot words are the harness's; this is one of the spare
// words before them).
const ctlArm = 6

// queueWorker: args are the control name, the id, the queue's name, the
// journal's and seen's names, and "joinable" or "plain".
func queueWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	joinable := args[5] == "joinable"
	var q *pool.Queue[[]byte]
	var jq *pool.JoinableQueue[[]byte]
	if joinable {
		if jq, err = pool.OpenJoinableQueue[[]byte](args[2], pool.WithCodec[[]byte](qCodec{})); err == nil {
			q = jq.Queue
		}
	} else {
		q, err = pool.OpenQueue[[]byte](args[2], pool.WithCodec[[]byte](qCodec{}))
	}
	if err != nil {
		return err
	}
	j, err := openQJournal(args[3], args[4])
	if err != nil {
		return err
	}
	qArmed = func() bool { return ctl.get(ctlArm) == uint64(me)+1 }
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(me)))
	timeout := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Duration(500+rng.IntN(4500))*time.Microsecond)
	}
	if me%2 == 0 {
		return workerLoop(ctl, me, nil, func() error { return produce(j, q, me/2, rng, timeout) })
	}
	last := map[int]int{} // per producer, the last s this consumer took
	return workerLoop(ctl, me, nil, func() error { return consume(j, q, jq, me/2, rng, timeout, last) })
}

var putCount = regexp.MustCompile(`\((\d+) of (\d+) items put\)$`)

// produce is one put of producer pi: one item (waiting, or TryPut) or a
// batch, with a deadline that may cut it short.
func produce(j qJournal, q *pool.Queue[[]byte], pi int, rng *rand.Rand, timeout func() (context.Context, context.CancelFunc)) error {
	next := int(j.p(pi, qpNext))
	if next >= qPerProducer {
		time.Sleep(100 * time.Microsecond) // this id has put all it may
		return nil
	}
	n := 1
	if rng.IntN(2) == 0 {
		n = min(2+rng.IntN(qMaxBatch-1), qPerProducer-next)
	}
	items := make([][]byte, n)
	for k := range items {
		items[k] = qMakeItem(pi, next+k)
	}
	j.setP(pi, qpStart, uint64(next))
	j.setP(pi, qpN, uint64(n))
	j.setP(pi, qpState, 1)
	ctx, cancel := timeout()
	defer cancel()
	put := 0
	switch {
	case n == 1 && rng.IntN(5) == 0:
		err := q.TryPut(items[0])
		if err == nil {
			put = 1
		} else if !errors.Is(err, pool.ErrFull) {
			return fmt.Errorf("TryPut: %w", err)
		}
	case n == 1:
		err := q.Put(ctx, items[0])
		if err == nil {
			put = 1
		} else if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("Put: %w", err)
		}
	default:
		err := q.PutBatch(ctx, items)
		if err == nil {
			put = n
		} else {
			m := putCount.FindStringSubmatch(err.Error())
			if !errors.Is(err, context.DeadlineExceeded) || m == nil || m[2] != strconv.Itoa(n) {
				return fmt.Errorf("PutBatch of %d: %w (want the deadline and how many were put)", n, err)
			}
			put, _ = strconv.Atoi(m[1])
		}
	}
	j.setP(pi, qpNext, uint64(next+put))
	j.setP(pi, qpState, 0)
	return nil
}

// consume is one get of consumer ci (one item, waiting or not, or a
// batch), then the recording of what it took and, joinable, a TaskDone
// for each.
func consume(j qJournal, q *pool.Queue[[]byte], jq *pool.JoinableQueue[[]byte], ci int, rng *rand.Rand,
	timeout func() (context.Context, context.CancelFunc), last map[int]int) error {
	m := 1
	if rng.IntN(2) == 0 {
		m = 2 + rng.IntN(qMaxBatch-1)
	}
	j.setC(ci, qcMax, uint64(m))
	j.setC(ci, qcRecStart, j.c(ci, qcRec))
	j.setC(ci, qcState, 1)
	ctx, cancel := timeout()
	defer cancel()
	var items [][]byte
	var err error
	switch {
	case m == 1 && rng.IntN(5) == 0:
		var it []byte
		if it, err = q.TryGet(); err == nil {
			items = [][]byte{it}
		} else if errors.Is(err, pool.ErrEmpty) {
			err = nil
		}
	case m == 1:
		var it []byte
		if it, err = q.Get(ctx); err == nil {
			items = [][]byte{it}
		}
	default:
		items, err = q.GetBatch(ctx, m)
	}
	if errors.Is(err, context.DeadlineExceeded) && len(items) == 0 {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("get of at most %d: %w", m, err)
	}
	if len(items) > m {
		return fmt.Errorf("a get of at most %d returned %d items", m, len(items))
	}
	ids := make([][2]int, len(items))
	for k, it := range items {
		p, s, err := qCheckItem(it)
		if err != nil {
			return err
		}
		if l, ok := last[p]; ok && s <= l {
			return fmt.Errorf("producer %d's item %d taken after its item %d: out of order, or twice", p, s, l)
		}
		last[p] = s
		ids[k] = [2]int{p, s}
		j.setC(ci, qcItems+k, qItemID(p, s))
	}
	j.setC(ci, qcGot, uint64(len(items)))
	j.setC(ci, qcState, 2)
	for _, id := range ids {
		j.record(ci, id[0], id[1])
		if jq != nil {
			done := j.c(ci, qcDone)
			j.setC(ci, qcDoneStart, done)
			j.setC(ci, qcTDOn, 1)
			if err := jq.TaskDone(); err != nil {
				return fmt.Errorf("TaskDone: %w", err)
			}
			j.setC(ci, qcDone, done+1)
			j.setC(ci, qcTDOn, 0)
		}
	}
	j.setC(ci, qcState, 0)
	return nil
}

func TestChaosQueue(t *testing.T)         { runQueueChaos(t, false) }
func TestChaosJoinableQueue(t *testing.T) { runQueueChaos(t, true) }

func runQueueChaos(t *testing.T, joinable bool) {
	proctest.CheckShm(t)
	before := listShmNames()
	ctx := proctest.Context(t)
	c := &queueChaos{t: t, ctx: ctx, final: map[int]uint64{}, lost: map[int]uint64{}, deadDone: map[int]uint64{}}
	opts := []pool.QueueOption{pool.Capacity(qCapacity), pool.WithCodec[[]byte](qCodec{})}
	mode := "plain"
	if joinable {
		mode = "joinable"
		// Join notices a dead consumer between its sleeps of this length.
		defer sem.SetPollInterval(sem.SetPollInterval(10 * time.Millisecond))
		jq, err := pool.NewJoinableQueue[[]byte](append(opts, pool.MaxSize(64))...)
		if err != nil {
			t.Fatal(err)
		}
		c.q, c.jq = jq.Queue, jq
	} else {
		q, err := pool.NewQueue[[]byte](opts...)
		if err != nil {
			t.Fatal(err)
		}
		c.q = q
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.q.Close()
		}
	})
	var names []string
	c.j, names = newQJournal(t)
	ctl := newControl(t, qMaxIDs)
	c.f = newFleet(t, ctl, 4, "chaos-queue", c.q.Name(), names[0], names[1], mode)
	kills := c.run()
	c.f.stop()
	c.finish()
	qname := c.q.Name()
	info, err := admin.Inspect(qname)
	if err != nil || info.Queue == nil {
		t.Fatalf("inspect %s: %v", qname, err)
	}
	takeovers := info.Queue.Producer.Takeovers + info.Queue.Consumer.Takeovers
	if takeovers < c.heldProd+c.heldCons || takeovers > kills {
		t.Errorf("%d takeovers of the queue's locks, for %d kills of which %d were seen holding one", takeovers, kills, c.heldProd+c.heldCons)
	}
	// The side segments the dead left are explained while the queue is
	// open; its creator's Close, the last handle, then removes any left.
	sides := shmfile.SidePrefix(qname, inodeOf(t, qname))
	orphans := c.orphans(before, sides)
	if err := c.q.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if _, err := os.Lstat("/dev/shm/" + qname); err == nil {
		t.Errorf("the queue %s is still in /dev/shm after its creator closed it", qname)
	}
	if left := sideSegments(sides); len(left) != 0 {
		t.Errorf("side segments of the queue left after its last handle closed: %v", left)
	}
	t.Logf("%s queue: %d kills (%d in the codec, mid-write or mid-read; %d seen holding the producers' lock, %d the consumers'; %d takeovers in all), %d items committed, %d taken exactly once, %d lost with killed consumers (exactly those), %d uncommitted; %d side segments left by the dead, each explained",
		mode, kills, c.armedKills, c.heldProd, c.heldCons, takeovers, c.committedTotal, c.takenOnce, c.lostTotal, c.uncommitted, orphans)
	if joinable {
		t.Logf("joinable: %d deaths holding unfinished items, each named by Join with its exact count (%d items given up)", c.joinReports, c.givenUp)
	}
}

// queueChaos is the parent's side.
type queueChaos struct {
	t   *testing.T
	ctx context.Context
	f   *fleet
	q   *pool.Queue[[]byte]
	jq  *pool.JoinableQueue[[]byte]
	j   qJournal

	final     map[int]uint64 // dead producer → items it committed
	lost      map[int]uint64 // dead consumer → items taken and never recorded
	deadDone  map[int]uint64 // dead consumer → TaskDones that committed
	knownLost [][2]int       // lost items the journal names
	givenUp   uint64         // items Join gave up
	parentRec uint64         // items the parent's drain took

	armedKills, joinReports, heldProd, heldCons       int
	committedTotal, takenOnce, lostTotal, uncommitted uint64
}

func (c *queueChaos) dead(id int) bool {
	_, alive := c.f.workers[id]
	return id < c.f.nextID && !alive
}

// committed sums the items the producers committed, but for except
// (a producer index, or -1).
func (c *queueChaos) committed(except int) (sum uint64) {
	for id := 0; id < c.f.nextID; id += 2 {
		pi := id / 2
		switch n, ok := c.final[pi]; {
		case pi == except:
		case ok:
			sum += n
		default:
			sum += c.j.p(pi, qpNext)
		}
	}
	return sum
}

// taken sums the items the consumers took (recorded, or lost), and their
// TaskDones, but for except.
func (c *queueChaos) taken(except int) (sum, done uint64) {
	for id := 1; id < c.f.nextID; id += 2 {
		ci := id / 2
		if ci == except {
			continue
		}
		sum += c.j.c(ci, qcRec) + c.lost[ci]
		if d, ok := c.deadDone[ci]; ok {
			done += d
		} else {
			done += c.j.c(ci, qcDone)
		}
	}
	return sum + c.parentRec, done + c.parentRec
}

// run is chaosRun with armed rounds: every other pair of rounds, the
// victim dies in the codec, at its next item (or is killed after 100 ms
// if it reaches none: a consumer of an empty queue).
func (c *queueChaos) run() int {
	t, f := c.t, c.f
	kills, until := chaosKills(t)
	n := 0
	for ; n < kills && (until.IsZero() || time.Now().Before(until)); n++ {
		r := round{n: n, victim: f.pick(), solo: n%2 == 0}
		r.victimPid = f.workers[r.victim].Pid()
		if r.solo {
			f.parkAll(r.victim)
			f.running(r.victim)
		} else {
			f.resume()
			f.running(f.ids()...)
		}
		if n%4 >= 2 {
			if c.armedKill(r.victim) {
				c.armedKills++
			}
		} else {
			f.kill(r.victim, 3*time.Millisecond)
		}
		if info, err := admin.Inspect(c.q.Name()); err == nil && info.Queue != nil {
			if l := info.Queue.Producer; l.Locked && l.Owner == r.victimPid {
				c.heldProd++
			}
			if l := info.Queue.Consumer; l.Locked && l.Owner == r.victimPid {
				c.heldCons++
			}
		}
		f.parkAll(-1)
		c.check(r)
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

// armedKill arms worker id to die in the codec and waits for it, killing
// it after 100 ms if it has not; it reports whether it died by itself.
func (c *queueChaos) armedKill(id int) bool {
	f := c.f
	w := f.workers[id]
	f.ctl.set(ctlArm, uint64(id)+1)
	for end := time.Now().Add(100 * time.Millisecond); !w.gone() && time.Now().Before(end); {
		time.Sleep(50 * time.Microsecond)
	}
	self := w.gone()
	if !self {
		w.Kill()
	}
	f.ctl.set(ctlArm, 0)
	if err := w.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		c.t.Fatalf("worker %d (pid %d) ended with %v, not by SIGKILL\nstderr:\n%s", id, w.Pid(), err, w.Stderr())
	}
	delete(f.workers, id)
	f.dead = append(f.dead, id)
	return self
}
