//go:build linux

package ring

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
)

// The kill test's ledger, a shared segment every process of the test
// writes: what each producer was putting and each consumer taking when it
// died, resolved exactly by whoever next takes the lock the dead one held
// (the protocol's own settling point), and how many times each record was
// taken.
const (
	killMaxIDs  = 24576 // producer processes over the whole test
	killPerID   = 2048  // records a producer puts before it exits
	killMaxCons = 16384 // consumer processes
)

type prodEntry struct {
	s          uint32 // the record being put
	active     uint32 // 1 from inside the fill until Put has returned
	tailBefore uint64 // the committed tail when the fill ran
	id         uint64 // the process's identity word (pid and start time: pids are reused)
	resolved   uint32 // 0 not yet; 1 committed; 2 not committed
	started    uint32
	done       int64 // last record whose Put returned; -1 none
}

type consEntry struct {
	p, s       uint32 // the record being taken
	active     uint32 // 1 from inside the take until Get has returned
	counted    uint32 // 1 once seen[p][s] was raised for this take
	headBefore uint64
	id         uint64
	resolved   uint32
	_          uint32
}

type ledger struct {
	prod [killMaxIDs]prodEntry
	cons [killMaxCons]consEntry
	seen [killMaxIDs][killPerID]uint8
}

func openLedger(name string) (*ledger, error) {
	f, err := segment.Open(name, segment.OpenOptions{})
	if err != nil {
		return nil, err
	}
	return (*ledger)(unsafe.Pointer(&f.Bytes()[0])), nil
}

// resolveDead settles the entries of dead processes with the lock of their
// side held and nothing committed since their death: a put committed iff
// the tail moved past the one it saw; a take iff the head did.
func (l *ledger) resolveDead(q *Queue, producer bool) {
	if producer {
		tail := atomic.LoadUint64(&q.c.tail)
		for i := range l.prod {
			e := &l.prod[i]
			if atomic.LoadUint32(&e.active) == 1 && atomic.LoadUint32(&e.resolved) == 0 && !robust.Alive(atomic.LoadUint64(&e.id)) {
				r := uint32(2)
				if tail != e.tailBefore {
					r = 1
				}
				atomic.StoreUint32(&e.resolved, r)
			}
		}
		return
	}
	head := atomic.LoadUint64(&q.c.head)
	for i := range l.cons {
		e := &l.cons[i]
		if atomic.LoadUint32(&e.active) == 1 && atomic.LoadUint32(&e.resolved) == 0 && !robust.Alive(atomic.LoadUint64(&e.id)) {
			r := uint32(2)
			if head != e.headBefore {
				r = 1
			}
			atomic.StoreUint32(&e.resolved, r)
		}
	}
}

func init() {
	proctest.Register("ring-kill-producer", roleKillProducer)
	proctest.Register("ring-kill-consumer", roleKillConsumer)
}

// roleKillProducer: queue, ledger, id, dieAt. Puts records id/0..killPerID-1,
// journalled in the ledger; with dieAt ≥ 0 it kills itself inside the fill
// of that record, half written, holding the producers' lock.
func roleKillProducer(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	l, err := openLedger(args[1])
	if err != nil {
		return err
	}
	testHookTakeover = func(q *Queue, producer bool) { l.resolveDead(q, producer) }
	id, _ := strconv.Atoi(args[2])
	dieAt, _ := strconv.Atoi(args[3])
	e := &l.prod[id]
	atomic.StoreUint64(&e.id, robust.SelfID())
	atomic.StoreInt64(&e.done, -1)
	atomic.StoreUint32(&e.started, 1)
	fmt.Println("ready")
	for s := 0; s < killPerID; s++ {
		n := recordSize(uint32(id), uint32(s))
		err := q.Put(context.Background(), n, KindItem, func(dst []byte) error {
			atomic.StoreUint32(&e.s, uint32(s))
			e.tailBefore = atomic.LoadUint64(&q.c.tail)
			atomic.StoreUint32(&e.active, 1)
			if s == dieAt {
				fillRecord(dst[:n/2+1], uint32(id), uint32(s)) // a torn record in free space
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			fillRecord(dst, uint32(id), uint32(s))
			return nil
		})
		if err != nil {
			return err
		}
		atomic.StoreInt64(&e.done, int64(s))
		atomic.StoreUint32(&e.active, 0)
	}
	return nil
}

// roleKillConsumer: queue, ledger, id, dieAt. Takes records until the
// queue is closed for everyone and drained, counting each in the ledger;
// with dieAt ≥ 0 it kills itself inside its dieAt-th take, holding the
// consumers' lock.
func roleKillConsumer(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	l, err := openLedger(args[1])
	if err != nil {
		return err
	}
	testHookTakeover = func(q *Queue, producer bool) { l.resolveDead(q, producer) }
	id, _ := strconv.Atoi(args[2])
	dieAt, _ := strconv.Atoi(args[3])
	e := &l.cons[id]
	atomic.StoreUint64(&e.id, robust.SelfID())
	fmt.Println("ready")
	for k := 0; ; k++ {
		err := q.Get(context.Background(), func(kind uint32, b []byte) error {
			p, s, err := checkRecord(b)
			if err != nil {
				return err
			}
			if p >= killMaxIDs || s >= killPerID {
				return errors.New("record out of range")
			}
			atomic.StoreUint32(&e.p, p)
			atomic.StoreUint32(&e.s, s)
			e.headBefore = atomic.LoadUint64(&q.c.head)
			atomic.StoreUint32(&e.counted, 0)
			atomic.StoreUint32(&e.active, 1)
			l.seen[p][s]++
			atomic.StoreUint32(&e.counted, 1)
			if k == dieAt {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			return nil
		})
		if errors.Is(err, ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		atomic.StoreUint32(&e.active, 0)
	}
}

// killCount is how many processes the kill test kills: 100 by default,
// MULTIPROC_RING_KILLS overrides (the long run is 10,000).
func killCount() int {
	if n, err := strconv.Atoi(os.Getenv("MULTIPROC_RING_KILLS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 30
	}
	return 100
}

// Producers and consumers in other processes are SIGKILLed at random
// moments, and some kill themselves in the worst place — half-way through
// writing a record, or inside a take — while holding a lock. After all
// that, every record committed was taken exactly once, none that was not
// committed was ever taken, nothing torn was seen, and the queue is empty
// and usable.
func TestKilledProducersAndConsumersLoseNothing(t *testing.T) {
	obj, q := newQueue(t, Geometry{Capacity: 4096})
	lf, err := segment.Create(segment.Generate("ringledger"), int(unsafe.Sizeof(ledger{})), segment.CreateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { lf.Unlink(); lf.Close() }()
	l := (*ledger)(unsafe.Pointer(&lf.Bytes()[0]))
	testHookTakeover = func(q *Queue, producer bool) { l.resolveDead(q, producer) }
	defer func() { testHookTakeover = nil }()

	kills := killCount()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	nextProd, nextCons := 0, 0
	startProducer := func() *proctest.Child {
		id := nextProd
		nextProd++
		dieAt := -1
		if rng.IntN(4) == 0 {
			dieAt = rng.IntN(killPerID)
		}
		c := proctest.Start(t, "ring-kill-producer", obj.Name, lf.Name, strconv.Itoa(id), strconv.Itoa(dieAt))
		c.WaitLine("ready") // killed at work, not while starting
		return c
	}
	startConsumer := func() *proctest.Child {
		id := nextCons
		nextCons++
		dieAt := -1
		if rng.IntN(4) == 0 {
			dieAt = rng.IntN(3000)
		}
		c := proctest.Start(t, "ring-kill-consumer", obj.Name, lf.Name, strconv.Itoa(id), strconv.Itoa(dieAt))
		c.WaitLine("ready")
		return c
	}
	producers := []*proctest.Child{startProducer(), startProducer()}
	consumers := []*proctest.Child{startConsumer(), startConsumer()}
	exited := func(c *proctest.Child) bool {
		select {
		case <-c.Done():
			return true
		default:
			return false
		}
	}
	killed := 0
	for killed < kills && nextProd < killMaxIDs-4 && nextCons < killMaxCons-4 {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		pick := rng.IntN(4)
		var c *proctest.Child
		if pick < 2 {
			c = producers[pick]
		} else {
			c = consumers[pick-2]
		}
		if !exited(c) {
			c.Kill()
		}
		killed++
		// Replace whoever is gone: killed, killed itself, or done.
		for i, p := range producers {
			if exited(p) {
				producers[i] = startProducer()
			}
		}
		for i, c := range consumers {
			if exited(c) {
				consumers[i] = startConsumer()
			}
		}
	}
	// The last producers finish; then the consumers drain and stop. A
	// consumer armed to kill itself may still do so meanwhile: replace it,
	// or with both consumers gone the ring fills and the producers wait for
	// room for ever (1 run in 31 of the suite under load).
	for slices.ContainsFunc(producers, func(p *proctest.Child) bool { return !exited(p) }) {
		for i, c := range consumers {
			if exited(c) {
				consumers[i] = startConsumer()
			}
		}
		time.Sleep(time.Millisecond)
	}
	for _, p := range producers {
		p.Wait() // may have killed itself
	}
	ctx := proctest.Context(t)
	// Settle a dead producer's lock, if one died holding it.
	if err := q.lockProd(ctx); err != nil {
		t.Fatal(err)
	}
	l.resolveDead(q, true)
	q.prod.Unlock()
	if err := q.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		alive := false
		for i, c := range consumers {
			if !exited(c) {
				alive = true
				continue
			}
			if q.Len() > 0 || !q.ClosedForAll() {
				consumers[i] = startConsumer() // one that killed itself: the queue still holds records
				alive = true
			}
		}
		if !alive {
			break
		}
		for _, c := range consumers {
			c.Wait()
		}
	}
	if err := q.lockCons(ctx); err != nil {
		t.Fatal(err)
	}
	l.resolveDead(q, false)
	q.cons.Unlock()

	// Take back the counts of takes that never committed.
	for i := range nextCons {
		e := &l.cons[i]
		if e.active == 1 {
			switch e.resolved {
			case 2:
				if e.counted == 1 {
					l.seen[e.p][e.s]--
				}
			case 0:
				t.Fatalf("consumer %d (pid %d) died inside a take that nobody settled", i, robust.PIDOf(e.id))
			}
		}
	}
	var records, inDoubt int
	for i := range nextCons {
		if l.cons[i].active == 1 {
			inDoubt++
		}
	}
	for id := range nextProd {
		e := &l.prod[id]
		if e.started == 0 {
			continue
		}
		last := e.done
		if e.active == 1 {
			inDoubt++
			switch e.resolved {
			case 1:
				last = int64(e.s)
			case 0:
				t.Fatalf("producer %d (pid %d) died inside a put that nobody settled", id, robust.PIDOf(e.id))
			}
		}
		for s := range killPerID {
			want := uint8(0)
			if int64(s) <= last {
				want = 1
			}
			if got := l.seen[id][s]; got != want {
				t.Fatalf("producer %d record %d taken %d times, want %d (last committed %d)", id, s, got, want, last)
			}
		}
		records += int(last + 1)
	}
	if q.Len() != 0 {
		t.Fatalf("%d records left in the queue", q.Len())
	}
	st, _ := q.prod.State(), 0
	if st.Consistency != robust.Consistent {
		t.Fatalf("producer lock %v", st.Consistency)
	}
	t.Logf("%d kills (plus self-kills), %d producers, %d consumers, %d records committed and taken exactly once; %d deaths inside a put or take, each settled exactly",
		killed, nextProd, nextCons, records, inDoubt)
}
