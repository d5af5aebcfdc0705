package sem

// Condition protocol: waiter slots, one per waiting process, so that
// Notify(n) wakes exactly min(n, waiting) goroutines across processes
// (Python's notify(n)), however many waiters were cancelled or killed.
//
// Shared words (condLayout and condSlot):
//
//	waiters        goroutines registered in Wait, all processes: the sum of
//	               the slots' waiting counts; Notify's no-syscall fast path
//	slot.owner     identity (pid | tag<<32) of the process using the slot,
//	               0 when free
//	slot.count     waiting (bits 31..0): goroutines of that process in Wait;
//	               granted (bits 63..32): how many of them have been
//	               notified and not yet left. granted ≤ waiting always.
//	               Changed only by CAS, by anyone.
//	slot.seq       the futex word that process's sleeper waits on; +1 by
//	               every grant
//
// Wait, called with the lock held (checked first: ErrNotOwner otherwise):
// find this process's slot (claimed once per process and Condition,
// reused after; a dead process's slot is reclaimed); count +1 waiting,
// waiters +1; release the lock (all levels of an RLock); wait for a grant
// (below); take the lock back (all levels), whatever the outcome.
//
// Waiting for a grant: through this process's gate, so that one goroutine
// per process (the holder) spins on count and sleeps on seq; the others
// park in FIFO order. The holder consumes a grant by CAS (waiting−1,
// granted−1), waiters −1, and hands the gate to the next goroutine, which
// looks for another grant before it sleeps. A goroutine whose ctx ends (or
// whose handle closes) leaves: if waiting > granted it takes (waiting−1)
// and returns ctx.Err() — the grants remain for the others — else every
// goroutine still waiting here has been granted, so it consumes one and
// returns nil: a notification is never swallowed by a waiter that then says
// it was not notified, and never lost.
//
// Notify(n): if waiters == 0, return (no system call). Else scan the slots
// from cursor (round robin): for a slot with waiting > granted, check its
// owner is alive (ours always is) — a dead process's slot is reclaimed
// (count := 0 by CAS, waiters −= its waiting, owner := 0) — and grant k =
// min(waiting − granted, n left) by CAS, bump seq and wake its sleeper;
// stop when n are granted. NotifyAll is Notify(all). So exactly min(n,
// waiting) goroutines are granted, and each grant is consumed by exactly
// one goroutine of its process.
//
// Why no wake-up is lost: a grant is a CAS on count followed by seq+1 and
// a wake; the sleeper reads seq, then count, then sleeps on seq expecting
// the value it read. A grant landing after its count read bumps seq before
// the sleep (the kernel's compare returns at once) or wakes it.
//
// Memory model: the lock orders everything, as for any condition
// variable: a Notify made with the lock held happens before the woken
// Wait's return, which retakes the lock.

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/wait"
)

// condSlot is one waiting process's entry in the slot table.
//
//	offset size field
//	     0    8 owner  identity word of the process, 0 = free (CAS)
//	     8    8 count  waiting (bits 31..0) | granted (bits 63..32) (CAS)
//	    16    4 seq    futex word; +1 by every grant
//	    20   12 (reserved, zero)
type condSlot struct {
	owner uint64
	count uint64
	seq   uint32
	_     [12]byte
}

const condSlotSize = int(unsafe.Sizeof(condSlot{}))

var _ [32 - condSlotSize]byte
var _ [condSlotSize - 32]byte

// Fields of count.
const (
	countWaiting = 1       // one waiting goroutine
	countGranted = 1 << 32 // one grant
	countLow     = 1<<32 - 1
)

func waitingOf(c uint64) uint64 { return c & countLow }
func grantedOf(c uint64) uint64 { return c >> 32 }

// condLocal is this process's state for one Condition, shared by all its
// handles here: the slot it claimed and the gate of its waiters.
type condLocal struct {
	gate wait.Gate
	slot atomic.Int32 // index+1 of our slot, 0 before the first Wait
}

var condLocals wait.Registry[condLocal]

func selfIdentity() uint64 { return robust.SelfID() }

// Wait releases the lock, which the caller must hold (all levels of an
// RLock), waits until notified or until ctx ends, and takes the lock back
// before it returns, whatever it returns. It returns nil when notified,
// ctx.Err() when ctx ended first, an error wrapping ErrNotOwner (and does
// not wait) when the caller does not hold the lock, ErrClosed when c was
// closed meanwhile, and an error wrapping ErrOwnerDead (held) or
// ErrNotRecoverable (not held) when taking the lock back found its owner
// dead or the lock unrecoverable.
//
// Taking the lock back is not bounded by ctx, as in Python: locks are held
// briefly, and a caller that gets ctx.Err() holds the lock as it expects.
func (c *Condition) Wait(ctx context.Context) error {
	if c.life.Closed() {
		return c.fail("Wait", ErrClosed)
	}
	defer runtime.KeepAlive(c)
	if !c.l.held() {
		return failf("Wait on Condition "+c.obj.Name+" without holding its lock", ErrNotOwner)
	}
	slot, err := c.register()
	if err != nil {
		return err
	}
	depth, err := c.l.release()
	if err != nil {
		c.leave(slot)
		return err
	}
	werr := c.await(ctx, slot)
	if err := c.l.reacquire(depth); err != nil {
		return err
	}
	return c.fail("Wait", werr)
}

// register adds the calling goroutine to its process's slot (with the
// lock held) and returns the slot.
func (c *Condition) register() (*condSlot, error) {
	slot, err := c.ourSlot()
	if err != nil {
		return nil, err
	}
	atomic.AddUint64(&slot.count, countWaiting)
	atomic.AddUint32(&c.c.waiters, 1)
	return slot, nil
}

// ourSlot returns this process's slot, claiming one on first use: the
// slot we already own (a handle closed and reopened), else a free one,
// else one whose owner is dead. Claims happen with the lock held.
func (c *Condition) ourSlot() (*condSlot, error) {
	if i := c.loc.slot.Load(); i > 0 {
		return &c.slots[i-1], nil
	}
	free := -1
	for i := range c.slots {
		o := atomic.LoadUint64(&c.slots[i].owner)
		if o == c.me {
			c.loc.slot.Store(int32(i + 1))
			return &c.slots[i], nil
		}
		if free < 0 && o == 0 {
			free = i
		}
	}
	for try := free; ; try = -1 {
		if try < 0 {
			try = c.reclaimDead()
			if try < 0 {
				return nil, c.fail("Wait", fmt.Errorf("%w: all %d waiter slots are in use by live processes", ErrInvalidArgument, len(c.slots)))
			}
		}
		if atomic.CompareAndSwapUint64(&c.slots[try].owner, 0, c.me) {
			for {
				u := atomic.LoadUint32(&c.c.used)
				if u >= uint32(try+1) || atomic.CompareAndSwapUint32(&c.c.used, u, uint32(try+1)) {
					break
				}
			}
			c.loc.slot.Store(int32(try + 1))
			return &c.slots[try], nil
		}
	}
}

// reclaimDead frees the slot of a dead process and returns its index, or
// -1 if every owner lives.
func (c *Condition) reclaimDead() int {
	for i := range c.slots {
		if o := atomic.LoadUint64(&c.slots[i].owner); o != 0 && o != c.me && !robust.Alive(o) {
			c.reclaim(&c.slots[i], o)
			if atomic.LoadUint64(&c.slots[i].owner) == 0 {
				return i
			}
		}
	}
	return -1
}

// reclaim frees slot, whose owner o is dead: its waiters were killed
// while waiting, and will never leave by themselves.
func (c *Condition) reclaim(slot *condSlot, o uint64) {
	for {
		n := atomic.LoadUint64(&slot.count)
		if atomic.CompareAndSwapUint64(&slot.count, n, 0) {
			if w := uint32(waitingOf(n)); w > 0 {
				atomic.AddUint32(&c.c.waiters, -w)
			}
			break
		}
	}
	atomic.CompareAndSwapUint64(&slot.owner, o, 0)
}

// consume takes one grant for the caller, if the slot has one.
func (c *Condition) consume(slot *condSlot) bool {
	for {
		n := atomic.LoadUint64(&slot.count)
		if grantedOf(n) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&slot.count, n, n-countWaiting-countGranted) {
			atomic.AddUint32(&c.c.waiters, ^uint32(0))
			return true
		}
	}
}

// leave takes the caller out of the slot when its wait ends without a
// grant of its own. It reports whether it consumed a grant instead: when
// every goroutine left waiting here has been granted, one of those grants
// is the caller's.
func (c *Condition) leave(slot *condSlot) (notified bool) {
	for {
		n := atomic.LoadUint64(&slot.count)
		next, notified := n-countWaiting, false
		if grantedOf(n) >= waitingOf(n) {
			next, notified = n-countWaiting-countGranted, true
		}
		if atomic.CompareAndSwapUint64(&slot.count, n, next) {
			atomic.AddUint32(&c.c.waiters, ^uint32(0))
			return notified
		}
	}
}

// await waits for a grant on slot (see the protocol); nil once one was
// consumed.
func (c *Condition) await(ctx context.Context, slot *condSlot) error {
	g := &c.loc.gate
	held, err := g.Enter(ctx, &c.life, nil)
	if !held {
		if c.leave(slot) {
			return nil
		}
		return err
	}
	defer g.Leave()
	if wait.SpinUntil(func() bool { return c.consume(slot) }) {
		return nil
	}
	sl := wait.NewSleeper(ctx, &slot.seq, c, &c.life)
	defer sl.Stop()
	for {
		seq := atomic.LoadUint32(&slot.seq)
		if c.consume(slot) {
			return nil
		}
		if _, err := sl.Sleep(seq); err != nil {
			if c.leave(slot) {
				return nil
			}
			return err
		}
	}
}

// WaitFor waits until pred returns true: Python's wait_for. It calls pred
// with the lock held, first before waiting at all, and again after each
// wake-up; it returns nil once pred is true. If ctx ends first it returns
// ctx.Err() (unless pred has become true meanwhile). The lock is held when
// WaitFor returns, as with Wait; its other errors are Wait's.
func (c *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.Wait(ctx); err != nil {
			if ctx.Err() != nil && err == ctx.Err() && pred() {
				return nil
			}
			return err
		}
	}
	return nil
}

// Notify wakes n goroutines waiting on c, in any processes — exactly
// min(n, waiting) of them, as Python's notify(n). With no waiters it does
// nothing, not even a system call. n < 0 panics (Python raises ValueError);
// after Close it does nothing.
func (c *Condition) Notify(n int) {
	if n < 0 {
		panic(fmt.Sprintf("sem: Notify(%d) on Condition %s: n must not be negative", n, c.obj.Name))
	}
	if n == 0 || c.life.Closed() || atomic.LoadUint32(&c.c.waiters) == 0 {
		return
	}
	c.grant(uint64(n))
	runtime.KeepAlive(c)
}

// NotifyAll wakes every goroutine waiting on c, in every process.
func (c *Condition) NotifyAll() { c.Notify(1<<31 - 1) }

// grant hands out up to n grants, round robin over the used slots.
func (c *Condition) grant(n uint64) {
	used := min(int(atomic.LoadUint32(&c.c.used)), len(c.slots))
	if used == 0 {
		return
	}
	start := int(atomic.LoadUint32(&c.c.cursor)) % used
	for j := 0; j < used && n > 0; j++ {
		i := (start + j) % used
		slot := &c.slots[i]
		o := atomic.LoadUint64(&slot.owner)
		if o == 0 {
			continue
		}
		for n > 0 {
			cnt := atomic.LoadUint64(&slot.count)
			avail := waitingOf(cnt) - min(grantedOf(cnt), waitingOf(cnt))
			if avail == 0 {
				break
			}
			if o != c.me && !robust.Alive(o) {
				c.reclaim(slot, o)
				break
			}
			k := min(avail, n)
			if atomic.CompareAndSwapUint64(&slot.count, cnt, cnt+k*countGranted) {
				n -= k
				atomic.AddUint32(&slot.seq, 1)
				condWake(&slot.seq, 1)
				atomic.StoreUint32(&c.c.cursor, uint32(i+1))
				break
			}
		}
	}
}

// condWake is futex.Wake, replaceable by tests that count system calls.
var condWake = futex.Wake

// kick wakes this process's sleeper on c (Close uses it).
func (c *Condition) kick() {
	if i := c.loc.slot.Load(); i > 0 {
		futex.WakeAll(&c.slots[i-1].seq)
	}
}

// Waiters reports how many goroutines, in all processes, wait on c. A
// process killed while waiting stays counted until a Notify (or a new
// waiter needing its slot) finds it dead.
func (c *Condition) Waiters() int { return int(int32(atomic.LoadUint32(&c.c.waiters))) }
