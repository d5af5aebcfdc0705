package hardening

// Chaos for Barrier: barrierParties workers cycle through one barrier; a
// kill breaks it. A party killed inside Wait must break it for the others
// with ErrPartyDied naming the victim; one killed between Waits leaves the
// others waiting for a party that will never come (Python's semantics), so
// the parent aborts. Then everyone parks, the parent resets the barrier
// and checks the journal of cycles, and a replacement party joins.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("chaos-barrier", barrierWorker)
}

const (
	barrierParties = 3
	// The journal keeps the last barrierRing cycles: word
	// ((cycle-1)%barrierRing)*barrierParties+i holds cycle<<20 | id+1 of
	// the party that got index i in that cycle. An entry of an older cycle
	// is overwritten; one of the same cycle is a duplicate index.
	barrierRing = 1 << 13
)

func journalEntry(cycle uint64, id int) uint64 { return cycle<<20 | uint64(id+1) }

// A barrier worker's slotSeen: what its last Wait in this round returned.
const (
	barrierNone      = 0
	barrierPassed    = 1
	barrierPartyDied = 2 // ErrBroken wrapping ErrPartyDied; slotPrev has the pid named
	barrierBroken    = 3 // ErrBroken otherwise (aborted, reset)
)

func barrierWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	b, err := barrier.Open(args[2])
	if err != nil {
		return err
	}
	seg, err := shm.Open(args[3])
	if err != nil {
		return err
	}
	journal := words(seg.Bytes())
	ctx := context.Background()
	return workerLoop(ctl, me, func() { ctl.slotSet(me, slotSeen, barrierNone) }, func() error {
		if ctl.slotGet(me, slotSeen) >= barrierPartyDied {
			time.Sleep(100 * time.Microsecond) // broken: wait for the parent's Reset
			return nil
		}
		idx, err := b.Wait(ctx)
		switch {
		case err == nil:
			// No cycle can complete until this party arrives again, so
			// Cycles is the number of the cycle it has just passed.
			c := b.Cycles()
			w := &journal[int((c-1)%barrierRing)*barrierParties+idx]
			for {
				old := atomic.LoadUint64(w)
				if old>>20 >= c {
					return fmt.Errorf("index %d of cycle %d returned twice (also to worker %d in cycle %d)", idx, c, int(old&(1<<20-1))-1, old>>20)
				}
				if atomic.CompareAndSwapUint64(w, old, journalEntry(c, me)) {
					break
				}
			}
			ctl.slotSet(me, slotSeen, barrierPassed)
			ctl.slotAdd(me, slotOps, 1)
		case errors.Is(err, barrier.ErrPartyDied):
			ctl.slotSet(me, slotPrev, uint64(pidIn(err.Error())))
			ctl.slotSet(me, slotSeen, barrierPartyDied)
		case errors.Is(err, barrier.ErrBroken):
			ctl.slotSet(me, slotSeen, barrierBroken)
		default:
			return fmt.Errorf("Wait: %w", err)
		}
		return nil
	})
}

// pidIn returns the pid in "(pid N)" in msg, or 0.
func pidIn(msg string) int {
	_, rest, ok := strings.Cut(msg, "(pid ")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.Fields(rest)[0], ")"))
	return n
}

func TestChaosBarrier(t *testing.T) {
	proctest.CheckShm(t)
	b, err := barrier.New(barrierParties)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); b.Unlink() })
	seg, err := shm.Create("", 8*barrierRing*barrierParties)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	journal := words(seg.Bytes())
	ctl := newControl(t, chaosMaxWorkers)
	checked := b.Cycles() // before any party runs: the journal starts empty
	f := newFleet(t, ctl, barrierParties, "chaos-barrier", b.Name(), seg.Name())
	f.noSolo = true
	var partyDied, aborted, cycles, short uint64
	kills := chaosRun(t, f, 3*time.Millisecond, func(r *round) {
		// Wait for each survivor to be told: by a death it saw (the
		// victim was in the barrier), else by the parent's Abort.
		deadline := time.Now().Add(300 * time.Millisecond)
		for {
			told := 0
			for _, id := range f.ids() {
				if ctl.slotGet(id, slotSeen) >= barrierPartyDied {
					told++
				}
			}
			if told == len(f.workers) {
				break
			}
			if time.Now().After(deadline) {
				// Nobody is waiting on the dead party, or someone waits for it
				// to arrive: only an Abort ends that.
				if err := b.Abort(); err != nil {
					t.Fatalf("%v: Abort: %v", r, err)
				}
				aborted++
				deadline = time.Now().Add(20 * time.Second)
				for _, id := range f.ids() {
					for ctl.slotGet(id, slotSeen) < barrierPartyDied {
						if time.Now().After(deadline) {
							t.Fatalf("%v: worker %d still in Wait 20 s after Abort", r, id)
						}
						time.Sleep(100 * time.Microsecond)
					}
				}
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}, func(r round) {
		died := false
		for _, id := range f.ids() {
			if ctl.slotGet(id, slotSeen) == barrierNone {
				continue // parked before it could see anything: the slot was reset
			}
			if pid := ctl.slotGet(id, slotPrev); pid != 0 && pid != uint64(r.victimPid) {
				t.Fatalf("%v: worker %d was told party pid %d died, the victim was %d", r, id, pid, r.victimPid)
			}
			ctl.slotSet(id, slotPrev, 0)
		}
		for _, id := range f.ids() {
			died = died || ctl.slotGet(id, slotSeen) == barrierPartyDied
		}
		if died {
			partyDied++
		}
		if err := b.Reset(); err != nil {
			t.Fatalf("%v: Reset: %v", r, err)
		}
		if b.Broken() || b.NWaiting() != 0 {
			t.Fatalf("%v: after Reset: broken %v, %d waiting", r, b.Broken(), b.NWaiting())
		}
		// The journal: every cycle completed this round had each index
		// once; all but the last had every party (a death can cut the
		// last one's parties short, as in Python: the break reaches those
		// still leaving, or the victim died before writing its entry).
		now := b.Cycles()
		for c := max(checked, now-min(now, barrierRing-1)) + 1; c <= now; c++ {
			n := 0
			for i := range barrierParties {
				if atomic.LoadUint64(&journal[int((c-1)%barrierRing)*barrierParties+i])>>20 == c {
					n++
				}
			}
			if n != barrierParties && c != now {
				t.Fatalf("%v: cycle %d of %d..%d completed with %d of %d parties", r, c, checked+1, now, n, barrierParties)
			}
			if n != barrierParties {
				short++
			}
		}
		cycles += now - checked
		checked = now
	})
	f.stop()
	t.Logf("barrier: %d kills (%d reported to the others as ErrPartyDied naming the victim, %d ended by Abort), %d cycles, each index once per cycle (%d last cycles of a round cut short by the death)",
		kills, partyDied, aborted, cycles, short)
}
