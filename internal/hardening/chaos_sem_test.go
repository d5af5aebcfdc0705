package hardening

// Chaos for Semaphore and Event, which have no owner: a process killed
// holding a semaphore's unit takes the unit with it (the documented
// caveat), so the test measures exactly what each death cost and gives it
// back; an Event must wake every survivor whoever died around a Set.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("chaos-semaphore", semaphoreWorker)
	proctest.Register("chaos-event", eventWorker)
}

// ctlInside is the control word that counts workers between a successful
// Acquire and their Release (semaphore chaos).
const ctlInside = 5

// semUnits is the semaphore's value: how many may hold a unit at once.
const semUnits = 2

// A semaphore worker's slotState.
const (
	semIdle      = 0
	semAcquiring = 1 // in Acquire: holds no unit, or has just got one
	semHolding   = 2 // Acquire returned: holds a unit
	semReleasing = 3 // about to Release, or in it
)

func semaphoreWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	s, err := sem.OpenSemaphore(args[2])
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(me)))
	ctx := context.Background()
	var ops uint64
	return workerLoop(ctl, me, nil, func() error {
		ctl.slotSet(me, slotState, semAcquiring)
		if err := s.Acquire(ctx); err != nil {
			return fmt.Errorf("Acquire: %w", err)
		}
		ctl.slotSet(me, slotState, semHolding)
		if n := atomic.AddUint64(&ctl.w[ctlInside], 1); n > semUnits {
			return fmt.Errorf("%d holders of a semaphore of %d units", n, semUnits)
		}
		spin(time.Duration(rng.IntN(30)) * time.Microsecond)
		atomic.AddUint64(&ctl.w[ctlInside], ^uint64(0))
		ctl.slotSet(me, slotState, semReleasing)
		if err := s.Release(); err != nil {
			return fmt.Errorf("Release: %w", err)
		}
		ctl.slotSet(me, slotState, semIdle)
		ops++
		ctl.slotSet(me, slotOps, ops)
		return nil
	})
}

func TestChaosSemaphore(t *testing.T) {
	proctest.CheckShm(t)
	s, err := sem.NewSemaphore(semUnits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); s.Unlink() })
	ctl := newControl(t, chaosMaxWorkers)
	f := newFleet(t, ctl, 4, "chaos-semaphore", s.Name())
	var lost, heldAtDeath int
	var state uint64
	kills := chaosRun(t, f, 3*time.Millisecond, func(r *round) {
		state = ctl.slotGet(r.victim, slotState)
	}, func(r round) {
		// Everyone parked holds nothing: what is missing is the victim's.
		units := semUnits - s.Value()
		inside := int(ctl.get(ctlInside))
		switch {
		case units < 0 || units > 1:
			t.Fatalf("%v: semaphore value %d after one death (of %d units)", r, s.Value(), semUnits)
		case inside > units:
			t.Fatalf("%v: the victim counted itself a holder but holds no unit", r)
		case state == semIdle && units != 0:
			t.Fatalf("%v: an idle victim took a unit with it", r)
		case state == semHolding && units != 1:
			t.Fatalf("%v: the victim held a unit, yet the value is whole", r)
		}
		// Give back what the death cost: the next round starts whole.
		if units == 1 {
			heldAtDeath++
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
		}
		atomic.StoreUint64(&ctl.w[ctlInside], 0)
		lost += units
		if s.Value() != semUnits {
			t.Fatalf("%v: value %d after giving back, want %d", r, s.Value(), semUnits)
		}
	})
	f.stop()
	var ops uint64
	for id := range f.nextID {
		ops += ctl.slotGet(id, slotOps)
	}
	t.Logf("semaphore: %d kills (%d holding a unit, each found and given back), %d acquire/release pairs, value exact after every kill; waiters hint %d",
		kills, heldAtDeath, ops, s.Waiters())
}

// eventWorker: in round r (ctlRound) the worker waits for the event, the
// worker named by ctlSetter setting it first; then it reports r (slotSeen).
func eventWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	e, err := sem.OpenEvent(args[2])
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(me)))
	ctx := context.Background()
	return workerLoop(ctl, me, nil, func() error {
		r := ctl.get(ctlRound)
		if r == 0 || ctl.slotGet(me, slotSeen) == r {
			time.Sleep(100 * time.Microsecond)
			return nil
		}
		if ctl.get(ctlSetter) == uint64(me)+1 {
			// A while into the round, so that kills land before the Set
			// as well as during and after it.
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			if err := e.Set(); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
		}
		if err := e.Wait(ctx); err != nil {
			return fmt.Errorf("Wait: %w", err)
		}
		ctl.slotSet(me, slotSeen, r)
		ctl.slotAdd(me, slotOps, 1)
		return nil
	})
}

func TestChaosEvent(t *testing.T) {
	proctest.CheckShm(t)
	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); e.Unlink() })
	ctl := newControl(t, chaosMaxWorkers)
	f := newFleet(t, ctl, 4, "chaos-event", e.Name())
	f.noSolo = true // every round needs the whole fleet waiting
	var setterKilled, setByParent int
	f.beforeRound = func(r *round) {
		// Parked: clear, then open round n+1 with a random setter, which
		// may be the victim.
		if err := e.Clear(); err != nil {
			t.Fatal(err)
		}
		r.setter = f.pick()
		ctl.set(ctlSetter, uint64(r.setter)+1)
		ctl.set(ctlRound, uint64(r.n)+1)
	}
	kills := chaosRun(t, f, 3*time.Millisecond, func(r *round) {
		if r.setter == r.victim {
			setterKilled++
		}
		// A setter killed before its Set leaves nobody to set: the
		// parent does. One killed after setting the flag and before
		// waking anyone leaves the wake to the waiters' bounded sleeps.
		deadline := time.Now().Add(20 * time.Second)
		for r.setter != r.victim && !e.IsSet() {
			if time.Now().After(deadline) {
				t.Fatalf("%v: the event is not set, and its setter (worker %d) lives", r, r.setter)
			}
			time.Sleep(100 * time.Microsecond)
		}
		if !e.IsSet() {
			setByParent++
			if err := e.Set(); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range f.ids() {
			for ctl.slotGet(id, slotSeen) != uint64(r.n)+1 {
				if time.Now().After(deadline) {
					t.Fatalf("%v: worker %d never woke though the event is set (set %v)", r, id, e.IsSet())
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
	}, func(r round) {})
	t.Logf("event: %d kills (%d of the setter; %d times the parent set in its place), every survivor woke in every round", kills, setterKilled, setByParent)
}
