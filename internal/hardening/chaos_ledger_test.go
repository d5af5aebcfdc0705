package hardening

// Chaos for the kinds that protect data with a robust lock: Lock, RLock,
// Array (its Lock), Value (Update) and Condition (producers and consumers
// on its lock). The data is a ledger (ledger_test.go); see chaos_test.go
// for the rounds.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

func init() {
	proctest.Register("chaos-ledger", ledgerWorker)
}

// chaosMaxWorkers bounds worker ids (and so kills) per chaos test.
const chaosMaxWorkers = 2048

// valueLedger is the type of the Value under chaos: a whole ledger.
type valueLedger [lgCounts + chaosMaxWorkers]uint64

// robustLocker is what sem.Lock and sem.RLock have in common.
type robustLocker interface {
	LockContext(ctx context.Context) error
	Unlock()
	MarkConsistent() error
	State() sem.LockState
	Close() error
}

// pendingMax bounds the Condition's items produced and not yet consumed.
const pendingMax = 16

// ledgerWorker is one worker: args are the control name, the worker id,
// the kind, the object's name and, for lock, rlock and cond, the name of
// the segment that holds the ledger.
func ledgerWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	kind, obj := args[2], args[3]
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(me)))
	pause := func() time.Duration { return time.Duration(rng.IntN(30)) * time.Microsecond }
	ctx := context.Background()
	var ops uint64
	committed := func() { ops++; ctl.slotSet(me, slotOps, ops) }

	var op func() error
	switch kind {
	case "lock", "rlock", "array", "cond":
		var lk robustLocker
		var led ledger
		var cond *sem.Condition
		switch kind {
		case "lock":
			lk, err = sem.OpenLock(obj)
		case "rlock":
			lk, err = sem.OpenRLock(obj)
		case "cond":
			cond, err = sem.OpenCondition(obj)
			if err == nil {
				lk = cond.Locker().(robustLocker)
			}
		case "array":
			var a *array.Array[uint64]
			if a, err = array.Open[uint64](obj); err == nil {
				lk, led = a.Lock(), ledger(a.Slice())
			}
		}
		if err != nil {
			return err
		}
		if led == nil {
			seg, err := shm.Open(args[4])
			if err != nil {
				return err
			}
			led = ledger(words(seg.Bytes()))
		}
		took := func() error {
			was, _ := led.repair()
			ctl.slotAdd(me, slotTaken, 1)
			ctl.slotSet(me, slotPrev, uint64(was+1))
			return lk.MarkConsistent()
		}
		lock := func() error {
			err := lk.LockContext(ctx)
			if errors.Is(err, sem.ErrOwnerDead) {
				err = took()
			}
			if err != nil {
				return fmt.Errorf("LockContext: %w", err)
			}
			if err := led.check(); err != nil {
				lk.Unlock()
				return err
			}
			return nil
		}
		switch {
		case kind == "cond" && me%2 == 0: // producer
			op = func() error {
				if err := lock(); err != nil {
					return err
				}
				full := led.get(lgProduced)-led.get(lgConsumed) >= pendingMax
				if !full {
					led.op(me, pause(), lgProduced)
					committed()
					cond.Notify(1)
				}
				lk.Unlock()
				if full {
					time.Sleep(50 * time.Microsecond)
				}
				return nil
			}
		case kind == "cond": // consumer
			parking := func() bool {
				return ctl.get(ctlStop) != 0 || ctl.get(ctlPause) != 0 && ctl.get(ctlRunner) != uint64(me)+1
			}
			op = func() error {
				if err := lock(); err != nil {
					return err
				}
				for {
					err := cond.WaitFor(ctx, func() bool { return led.get(lgProduced) > led.get(lgConsumed) || parking() })
					if errors.Is(err, sem.ErrOwnerDead) {
						if err := took(); err != nil {
							return err
						}
						continue // repaired: wait again on sound data
					}
					if err != nil {
						return fmt.Errorf("WaitFor: %w", err)
					}
					break
				}
				if err := led.check(); err != nil {
					lk.Unlock()
					return err
				}
				if led.get(lgProduced) > led.get(lgConsumed) {
					led.op(me, pause(), lgConsumed)
					committed()
				}
				lk.Unlock()
				return nil
			}
		default:
			op = func() error {
				if err := lock(); err != nil {
					return err
				}
				if kind == "rlock" {
					// Reentry: the lock is ours already, so this must not wait.
					if err := lk.LockContext(ctx); err != nil {
						return fmt.Errorf("reentrant LockContext: %w", err)
					}
				}
				led.op(me, pause())
				committed()
				if kind == "rlock" {
					lk.Unlock()
				}
				lk.Unlock()
				return nil
			}
		}
	case "value":
		v, err := value.Open[valueLedger](obj)
		if err != nil {
			return err
		}
		op = func() error {
			var violation error
			err := v.UpdateContext(ctx, func(s *valueLedger) {
				l := ledger(s[:])
				if violation = l.check(); violation == nil {
					l.op(me, pause())
				}
			})
			switch {
			case err == nil && violation != nil:
				return violation
			case err == nil:
				committed()
			case errors.Is(err, value.ErrOwnerDead):
				// The dead holder's update was lost whole, or it was half
				// copied in: Repair resolves that one (see resolveValue).
				if _, err := v.Repair(ctx, resolveValue); err != nil {
					return fmt.Errorf("Repair: %w", err)
				}
				ctl.slotAdd(me, slotTaken, 1)
			default:
				return fmt.Errorf("UpdateContext: %w", err)
			}
			return nil
		}
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return workerLoop(ctl, me, nil, op)
}

// resolveValue repairs a Value whose update was cut while being copied in:
// every word is the old or the new one, and the counts are the truth (each
// a single word, changed by one operation), so the operation counts as
// committed exactly if its worker's count was copied.
func resolveValue(s *valueLedger) {
	l := ledger(s[:])
	var sum uint64
	for id := range l.workers() {
		sum += l.count(id)
	}
	l.set(lgSeq, sum)
	l.set(lgUndoSeq, sum)
	for i := range lgDataN {
		l.set(lgData+i, sum)
	}
	l.set(lgHolder, 0)
	l.set(lgTakeovers, l.get(lgTakeovers)+1)
}

// ledgerChaos is the parent's side of one ledger kind.
type ledgerChaos struct {
	t     *testing.T
	f     *fleet
	kind  string
	owner func() sem.LockState                         // the lock's state, read without locking it
	with  func(fn func(l ledger)) (took bool, was int) // take the lock (repairing), run fn, release
	// per round
	tookInPause bool
	// over the run
	lastTakeovers uint64
	frozen        map[int]uint64 // dead workers' final counts
	heldKills     int            // victims that died holding the lock
	deadHeirs     int            // of those, contended ones that needed no takeover (see check)
	rolledBack    int
	ops           uint64
}

func TestChaosLock(t *testing.T)      { runLedgerChaos(t, "lock") }
func TestChaosRLock(t *testing.T)     { runLedgerChaos(t, "rlock") }
func TestChaosArray(t *testing.T)     { runLedgerChaos(t, "array") }
func TestChaosValue(t *testing.T)     { runLedgerChaos(t, "value") }
func TestChaosCondition(t *testing.T) { runLedgerChaos(t, "cond") }

func runLedgerChaos(t *testing.T, kind string) {
	proctest.CheckShm(t)
	ctl := newControl(t, chaosMaxWorkers)
	c := &ledgerChaos{t: t, kind: kind, frozen: map[int]uint64{}}
	ctx := proctest.Context(t)
	var name, data string
	var lk robustLocker
	var led ledger
	var pause func(uint64)
	switch kind {
	case "lock", "rlock", "cond":
		seg, err := shm.Create("", 8*ledgerWords(chaosMaxWorkers))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { seg.Close(); seg.Unlink() })
		data, led = seg.Name(), ledger(words(seg.Bytes()))
		switch kind {
		case "lock":
			l, err := sem.NewLock()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close(); l.Unlink() })
			name, lk = l.Name(), l
		case "rlock":
			l, err := sem.NewRLock()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close(); l.Unlink() })
			name, lk = l.Name(), l
		case "cond":
			cv, err := sem.NewCondition(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cv.Close(); cv.Unlink() })
			name, lk = cv.Name(), cv.Locker().(robustLocker)
			// Consumers sleep on a predicate: park them by changing it
			// under the lock and notifying, as the Condition contract says.
			pause = func(e uint64) {
				took, _ := c.with(func(ledger) { ctl.set(ctlPause, e); cv.NotifyAll() })
				c.tookInPause = c.tookInPause || took
			}
		}
	case "array":
		a, err := array.New[uint64](ledgerWords(chaosMaxWorkers))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); a.Unlink() })
		name, lk, led = a.Name(), a.Lock(), ledger(a.Slice())
	case "value":
		v, err := value.New[valueLedger](valueLedger{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close(); v.Unlink() })
		name = v.Name()
		c.owner = v.Lock().State
		c.with = func(fn func(l ledger)) (took bool, was int) {
			for {
				err := v.UpdateContext(ctx, func(s *valueLedger) { fn(ledger(s[:])) })
				if err == nil {
					return took, -1
				}
				if !errors.Is(err, value.ErrOwnerDead) {
					t.Fatalf("parent UpdateContext: %v", err)
				}
				took = true
				fixed, err := v.Repair(ctx, resolveValue)
				if err != nil {
					t.Fatalf("parent Repair: %v", err)
				}
				if fixed {
					c.rolledBack++ // a half-written update resolved
				}
			}
		}
	}
	if lk != nil {
		c.owner = lk.State
		c.with = func(fn func(l ledger)) (took bool, was int) {
			was = -1
			err := lk.LockContext(ctx)
			if errors.Is(err, sem.ErrOwnerDead) {
				took = true
				var rb bool
				if was, rb = led.repair(); rb {
					c.rolledBack++
				}
				err = lk.MarkConsistent()
			}
			if err != nil {
				t.Fatalf("parent LockContext: %v", err)
			}
			defer lk.Unlock()
			fn(led)
			return took, was
		}
	}
	args := []string{kind, name}
	if data != "" {
		args = append(args, data)
	}
	c.f = newFleet(t, ctl, 4, "chaos-ledger", args...)
	c.f.pause = pause
	c.lastTakeovers = uint64(c.owner().Takeovers)
	kills := chaosRun(t, c.f, 3*time.Millisecond, c.observe, c.check)
	c.f.stop()
	// After the run: the dead stay as they were, the survivors' counts add up.
	c.with(func(l ledger) {
		if err := l.check(); err != nil {
			t.Fatal(err)
		}
		for id, n := range c.frozen {
			if l.count(id) != n {
				t.Errorf("dead worker %d: count %d at the end, %d when it died", id, l.count(id), n)
			}
		}
		c.ops = l.get(lgSeq)
	})
	repaired := "uncommitted operations rolled back by the parent"
	if kind == "value" {
		repaired = "half-written updates resolved by the parent's Repair"
	}
	t.Logf("%s: %d kills (%d while holding the lock, %d of them handed the lock and dead before accepting it; %d %s), %d operations committed, exact",
		kind, kills, c.heldKills, c.deadHeirs, c.rolledBack, repaired, c.ops)
}

// observe runs right after the kill: whether the victim held the lock. In
// a solo round nobody else runs, so this is exact.
func (c *ledgerChaos) observe(r *round) {
	st := c.owner()
	r.held = st.Locked && st.Owner == r.victimPid
}

// check runs with the fleet parked after a kill: see chaos_test.go.
func (c *ledgerChaos) check(r round) {
	t := c.t
	held := r.held
	if st := c.owner(); st.Locked && st.Owner != r.victimPid {
		t.Fatalf("%v: with every worker parked the lock is held by pid %d (alive %v)", r, st.Owner, st.OwnerAlive)
	}
	took, was := c.with(func(l ledger) {
		if err := l.check(); err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		for _, id := range c.f.ids() {
			if got, want := l.count(id), c.f.ctl.slotGet(id, slotOps); got != want {
				t.Fatalf("%v: worker %d committed %d operations, the ledger says %d", r, id, want, got)
			}
		}
		for _, id := range c.f.dead {
			if n, ok := c.frozen[id]; !ok {
				c.frozen[id] = l.count(id)
			} else if l.count(id) != n {
				t.Fatalf("%v: dead worker %d's count moved from %d to %d", r, id, n, l.count(id))
			}
		}
	})
	// The lock's own count of dead owners taken over: one death, at most one.
	tk := uint64(c.owner().Takeovers)
	took = took || c.tookInPause
	c.tookInPause = false
	delta := tk - c.lastTakeovers
	c.lastTakeovers = tk
	if held {
		c.heldKills++
	}
	if held && delta == 0 {
		// Under contention the word may name the victim as a starving
		// waiter the lock was handed to, dead before it accepted: the data
		// was never touched, and the next waiter takes the lock without
		// ErrOwnerDead (robust's starvation mode). Had the victim begun its
		// operation, the ledger check above would have failed.
		c.deadHeirs++
	}
	switch {
	case r.solo && held && delta != 1:
		t.Fatalf("%v: the victim died holding the lock, alone, and %d takeovers followed (want 1: ErrOwnerDead for one taker)", r, delta)
	case r.solo && held && !took:
		t.Fatalf("%v: the victim died holding the lock, alone, and the parent's lock did not report ErrOwnerDead", r)
	case r.solo && took != held:
		t.Fatalf("%v: ErrOwnerDead with nobody dead holding the lock", r)
	case r.solo && delta != btou(held):
		t.Fatalf("%v: %d takeovers for a victim that alone ran (held the lock: %v)", r, delta, held)
	case delta > 1:
		t.Fatalf("%v: %d takeovers for one death", r, delta)
	case took && was != -1 && was != r.victim:
		t.Fatalf("%v: took the lock over from worker %d, who is alive", r, was)
	}
	for _, id := range c.f.ids() {
		if prev := c.f.ctl.slotGet(id, slotPrev); c.f.ctl.slotGet(id, slotTaken) > 0 && prev != 0 && !c.isDead(int(prev)-1) {
			t.Fatalf("%v: worker %d took the lock over from worker %d, who is alive", r, id, prev-1)
		}
	}
}

func (c *ledgerChaos) isDead(id int) bool {
	for _, d := range c.f.dead {
		if d == id {
			return true
		}
	}
	return false
}

func btou(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
