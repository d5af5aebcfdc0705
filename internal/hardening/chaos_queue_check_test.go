package hardening

// The parent's checks of the Queue chaos: after each kill (check), and at
// the end (finish, orphans).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/pool"
)

// check runs with the survivors parked after a kill: it settles the
// victim's operation exactly (see queue_journal_test.go) and, for a
// JoinableQueue, holds Join to naming a dead consumer's unfinished items.
func (c *queueChaos) check(r round) {
	t, j := c.t, c.j
	for _, id := range c.f.ids() {
		if id%2 == 0 && j.p(id/2, qpState) != 0 || id%2 == 1 && (j.c(id/2, qcState) != 0 || j.c(id/2, qcPendOn) != 0) {
			t.Fatalf("%v: worker %d parked inside an operation", r, id)
		}
		if c.jq != nil && id%2 == 1 && j.c(id/2, qcRec) != j.c(id/2, qcDone) {
			t.Fatalf("%v: consumer %d parked holding %d items not marked done", r, id, j.c(id/2, qcRec)-j.c(id/2, qcDone))
		}
	}
	vi := r.victim / 2
	length := int64(c.q.Len())
	if r.victim%2 == 0 {
		taken, _ := c.taken(-1)
		got := length - (int64(c.committed(vi)) - int64(taken)) // what the victim committed
		start, n, next := int64(j.p(vi, qpStart)), int64(j.p(vi, qpN)), int64(j.p(vi, qpNext))
		switch j.p(vi, qpState) {
		case 0:
			if got != next {
				t.Fatalf("%v: producer %d had committed %d items between puts, the queue holds what %d would leave", r, vi, next, got)
			}
		default:
			if got < start || got > start+n || got < next {
				t.Fatalf("%v: producer %d died putting items %d..%d (returned: %d), the queue holds what %d would leave", r, vi, start, start+n-1, next, got)
			}
		}
		c.final[vi] = uint64(got)
		c.checkUnfinished(r)
		return
	}
	j.repair(vi)
	takenOthers, doneOthers := c.taken(vi)
	rec := int64(j.c(vi, qcRec))
	k := int64(c.committed(-1)) - length - int64(takenOthers) - rec // taken, never recorded
	switch st, got, recorded := j.c(vi, qcState), int64(j.c(vi, qcGot)), rec-int64(j.c(vi, qcRecStart)); {
	case st == 0 && k != 0:
		t.Fatalf("%v: consumer %d died between gets, and %d items are missing from the queue", r, vi, k)
	case st == 1 && (k < 0 || k > int64(j.c(vi, qcMax))):
		t.Fatalf("%v: consumer %d died in a get of at most %d, and %d items are missing from the queue", r, vi, j.c(vi, qcMax), k)
	case st == 2 && k != got-recorded:
		t.Fatalf("%v: consumer %d died recording the %d items its get returned (%d recorded), and %d items are missing from the queue", r, vi, got, recorded, k)
	case st == 2:
		for i := recorded; i < got; i++ {
			id := j.c(vi, qcItems+int(i))
			c.knownLost = append(c.knownLost, [2]int{int(id >> 32), int(uint32(id))})
		}
	}
	c.lost[vi] = uint64(k)
	if c.jq == nil {
		return
	}
	// The victim's TaskDone in flight, if any, is settled by Unfinished.
	u := int64(c.jq.Unfinished())
	left := int64(c.committed(-1)) - int64(doneOthers) - int64(c.givenUp) // unfinished but for the victim's TaskDones
	done := int64(j.c(vi, qcDone))
	if j.c(vi, qcTDOn) == 1 {
		done = int64(j.c(vi, qcDoneStart))
		if d := left - done - u; d == 0 || d == 1 {
			done += d
		} else {
			t.Fatalf("%v: consumer %d died in a TaskDone after %d, and Unfinished is %d: %d TaskDones for one call", r, vi, done, u, d)
		}
	} else if left-done != u {
		t.Fatalf("%v: Unfinished is %d, the journal says %d", r, u, left-done)
	}
	c.deadDone[vi] = uint64(done)
	if held := rec + k - done; held > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
		err := c.jq.Join(ctx)
		cancel()
		want := fmt.Sprintf("pid %d died holding %d unfinished items", r.victimPid, held)
		if !errors.Is(err, pool.ErrConsumerDied) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: consumer %d died holding %d unfinished items; Join = %v, want ErrConsumerDied: …%s…", r, vi, held, err, want)
		}
		c.givenUp += uint64(held)
		c.joinReports++
	}
	c.checkUnfinished(r)
}

// checkUnfinished: with every survivor holding nothing, what is
// unfinished is what is queued.
func (c *queueChaos) checkUnfinished(r round) {
	if c.jq == nil {
		return
	}
	if u, n := c.jq.Unfinished(), c.q.Len(); u != n {
		c.t.Fatalf("%v: Unfinished %d with %d items queued and every consumer holding none", r, u, n)
	}
}

// finish drains the queue and checks every item ever put.
func (c *queueChaos) finish() {
	t, j := c.t, c.j
	last := map[int]int{}
	for {
		it, err := c.q.TryGet()
		if errors.Is(err, pool.ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		p, s, err := qCheckItem(it)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if l, ok := last[p]; ok && s <= l {
			t.Fatalf("drain: producer %d's item %d after its item %d", p, s, l)
		}
		last[p] = s
		atomic.AddUint32(j.seenOf(p, s), 1)
		c.parentRec++
		if c.jq != nil {
			if err := c.jq.TaskDone(); err != nil {
				t.Fatalf("drain: TaskDone: %v", err)
			}
		}
	}
	committed := c.committed(-1)
	taken, _ := c.taken(-1)
	if committed != taken {
		t.Fatalf("%d items committed, %d taken (recorded or lost with a killed consumer)", committed, taken)
	}
	if c.jq != nil {
		if u := c.jq.Unfinished(); u != 0 {
			t.Fatalf("Unfinished %d after the drain", u)
		}
		if err := c.jq.Join(c.ctx); err != nil {
			t.Fatalf("Join after the drain: %v", err)
		}
	}
	var unseen uint64
	for pi := 0; pi*2 < c.f.nextID; pi++ {
		n := int(j.p(pi, qpNext))
		if f, ok := c.final[pi]; ok {
			n = int(f)
		}
		c.committedTotal += uint64(n)
		for s := range qPerProducer {
			switch k := j.seenCount(pi, s); {
			case s < n && k == 0:
				unseen++
			case s < n && k > 1:
				t.Fatalf("producer %d's item %d taken %d times", pi, s, k)
			case s >= n && k != 0:
				t.Fatalf("producer %d's item %d taken %d times, and it was never committed (%d were)", pi, s, k, n)
			case s < n:
				c.takenOnce++
			}
		}
	}
	for _, l := range c.lost {
		c.lostTotal += l
	}
	if unseen != c.lostTotal {
		t.Fatalf("%d committed items never taken, and %d were lost with killed consumers", unseen, c.lostTotal)
	}
	for _, id := range c.knownLost {
		if j.seenCount(id[0], id[1]) != 0 {
			t.Fatalf("item %d/%d, lost with the consumer that was recording it, was taken again", id[0], id[1])
		}
	}
	for pi, n := range c.final {
		if j.p(pi, qpState) == 1 {
			c.uncommitted += j.p(pi, qpStart) + j.p(pi, qpN) - n
		}
	}
}

// orphans finds the side segments of this test's items left in /dev/shm
// (named under sides, the queue's prefix, and not there before it: another
// suite running beside this one has queues of its own) and checks that each is explained by a death: an
// item a dead producer published and never committed, or one a killed
// consumer took and never read. It removes them, as the tracker would at
// the program's end, and returns how many there were.
func (c *queueChaos) orphans(before []string, sides string) int {
	t, j := c.t, c.j
	n := 0
	for _, name := range listShmNames() {
		if !strings.HasPrefix(name, sides) || slices.Contains(before, name) {
			continue
		}
		f, err := segment.Open(name, segment.OpenOptions{})
		if err != nil {
			continue // another test's, gone since
		}
		p, s, err := qCheckItem(f.Bytes())
		f.Close()
		f.Unmap()
		if err != nil {
			continue // not one of ours: another test's, running beside this one
		}
		final, dead := c.final[p]
		switch {
		case dead && uint64(s) >= final && uint64(s) < j.p(p, qpStart)+j.p(p, qpN):
			// published by a producer killed before its put committed
		case (dead && uint64(s) < final || !dead && uint64(s) < j.p(p, qpNext)) && j.seenCount(p, s) == 0:
			// its record was taken by a consumer killed before it read it
		default:
			t.Errorf("side segment %s of item %d/%d left in /dev/shm, and no death explains it", name, p, s)
			continue
		}
		os.Remove(segment.Path(name))
		n++
	}
	return n
}

func listShmNames() []string {
	es, _ := os.ReadDir("/dev/shm")
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	return names
}
