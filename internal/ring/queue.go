//go:build linux

package ring

// Queue protocol (MPMC): the records of records.go, a producers' lock and a
// consumers' lock (robust mutexes, internal/robust), and two futex words.
//
//  - Put: take prodLock; if the queue is closed, fail; read tail (ours) and
//    head (the consumers', acquire); find room for the record (place); if
//    none, or maxItems records are queued, unlock and wait for notFull;
//    write the record (a pad first if needed) and store the new tail — the
//    commit; unlock; if consumers wait (consWaiting > 0), notEmpty+1 and
//    wake as many as records were put.
//  - Get: take consLock; read head (ours) and tail (acquire); if empty,
//    unlock and wait for notEmpty (or fail if closed); copy the record out
//    (the caller's take function) and store the new head — the commit;
//    unlock; if producers wait, notFull+1 and wake them all (room for one
//    may be room for several).
//  - Batches are the same with several records and one commit.
//  - Waiting for notEmpty: through this process's gate (internal/wait);
//    the holder spins watching tail, then: consWaiting+1; read notEmpty;
//    re-check tail; sleep on notEmpty while it is unchanged; consWaiting−1.
//    A put stores tail before it reads consWaiting, and the waiter adds to
//    consWaiting before it re-reads tail (all sequentially consistent), so
//    one of them sees the other: no wake-up is lost. notFull is the mirror.
//  - Closing for everyone: take prodLock, state := closed, unlock, bump and
//    wake both words. Puts fail from then on; gets drain what is left, then
//    fail.
//
// Death: a producer killed holding prodLock never stored its tail, or
// stored it after writing the whole record: either way the ring is whole,
// and the next producer's Lock returns ErrOwnerDead only to say so (for a
// joinable queue it also settles the journal, join.go). The same holds for
// consumers and head. Locks are held only to copy bytes, never while
// waiting.
//
// Memory model: a put's writes to its record happen before its tail store
// (release), which happens before the get that reads that tail (acquire)
// reads the record.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// Kinds of records a caller puts.
const (
	KindItem = recItem // the payload is the item
	KindRef  = recRef  // the payload names a side segment holding the item
)

// A Queue is one process's handle on a queue's ring. Its methods are safe
// for concurrent use; the locks order everything across processes.
type Queue struct {
	c    *qControl
	d    data
	g    Geometry
	slot []joinSlot // joinable: the consumer slots, in the mapping
	prod *robust.Mutex
	cons *robust.Mutex
	file *segment.File // keeps the mapping
	life *wait.Handle  // the owning handle's close state
	me   uint64

	emptyGate *wait.Gate // this process's consumers waiting for records
	fullGate  *wait.Gate // this process's producers waiting for room
	joinGate  *wait.Gate

	// The other side's position, as last read: read again only when it
	// seems to leave no room (producers) or no record (consumers). Reading
	// the other side's cache line once per item is most of a put's or a
	// get's cost across CPUs. A consumer's stale tail only understates the
	// records, so it is always safe. A producer's stale head is safe only
	// while the tail is where this handle left it (headTail): then tail and
	// that head are within one lap of each other, as place needs; once
	// another producer has moved the tail, the offsets of an old head mean
	// nothing, and the head is read again. headSeen and headTail are used
	// with prodLock held, tailSeen with consLock held.
	headSeen uint64
	headTail uint64 // the tail headSeen goes with (see headFor)
	tailSeen uint64
}

// headFor returns a head that leaves room for a record of size bytes
// after tail (and below maxItems), reading the consumers' head only when
// the one last seen does not; ok is false when even the current one does
// not. Call with prodLock held.
func (q *Queue) headFor(tail uint64, size uint32) (head uint64, ok bool) {
	room := func(h uint64) bool {
		if q.g.MaxItems > 0 && pos32(tail)-pos32(h) >= uint32(q.g.MaxItems) {
			return false
		}
		_, _, _, ok := q.d.place(tail, h, size)
		return ok
	}
	if tail == q.headTail && room(q.headSeen) {
		return q.headSeen, true
	}
	h := atomic.LoadUint64(&q.c.head)
	q.headSeen, q.headTail = h, tail
	return h, room(h)
}

// tailFor returns a tail past head (a record to take), reading the
// producers' tail only when the one last seen shows none. Call with
// consLock held.
func (q *Queue) tailFor(head uint64) (tail uint64, ok bool) {
	if t := q.tailSeen; pos32(t)-pos32(head) > 0 && pos32(t)-pos32(head) <= 1<<31 {
		return t, true
	}
	t := atomic.LoadUint64(&q.c.tail)
	q.tailSeen = t
	return t, pos32(t) != pos32(head)
}

var queueGates wait.Registry[wait.Gate]

// Attach returns a handle on the queue in obj's payload, validating its
// fixed facts first. life is the owning handle's close state.
func Attach(obj *segment.Object, life *wait.Handle) (*Queue, error) {
	var g Geometry
	err := obj.Validate(func() (err error) { g, err = readGeometry(obj.Payload); return err })
	if err != nil {
		return nil, err
	}
	p := unsafe.Pointer(&obj.Payload[0]) // page start + 128: 64-byte aligned
	key := func(off int) wait.Key {
		return wait.Key{Dev: obj.Dev, Ino: obj.Ino, Off: int64(layout.HeaderSize + off)}
	}
	q := &Queue{
		c:         (*qControl)(p),
		d:         data{b: obj.Payload[qDataOff : qDataOff+g.Capacity], cap: uint32(g.Capacity)},
		g:         g,
		slot:      unsafe.Slice((*joinSlot)(unsafe.Add(p, qControlSize)), joinSlots),
		prod:      robust.Attach(obj.File, layout.HeaderSize+offProdLock, life),
		cons:      robust.Attach(obj.File, layout.HeaderSize+offConsLock, life),
		file:      obj.File,
		life:      life,
		me:        robust.SelfID(),
		emptyGate: queueGates.Get(key(offNotEmpty)),
		fullGate:  queueGates.Get(key(offNotFull)),
		joinGate:  queueGates.Get(key(offJoinSeq)),
	}
	return q, nil
}

// Geometry returns the queue's fixed facts.
func (q *Queue) Geometry() Geometry { return q.g }

// MaxRecord is the largest payload a record in the ring may carry; larger
// items go through a side segment (KindRef).
func (q *Queue) MaxRecord() int { return int(q.d.cap/4) - recHeader }

// lockProd takes the producers' lock; a dead holder left the ring whole
// (see the protocol), so its takeover is settled here and reported to
// nobody.
func (q *Queue) lockProd(ctx context.Context) error {
	err := q.prod.Lock(ctx)
	if errors.Is(err, robust.ErrOwnerDead) {
		if testHookTakeover != nil {
			testHookTakeover(q, true)
		}
		q.prod.MarkConsistent()
		return nil
	}
	return err
}

// testHookTakeover, when set, runs with a lock just taken over from a dead
// holder, before anything else happens under it.
var testHookTakeover func(q *Queue, producer bool)

func (q *Queue) lockCons(ctx context.Context) error {
	err := q.cons.Lock(ctx)
	if errors.Is(err, robust.ErrOwnerDead) {
		q.settleConsumer()
		if testHookTakeover != nil {
			testHookTakeover(q, false)
		}
		q.cons.MarkConsistent()
		return nil
	}
	return err
}

func (q *Queue) closedForAll() bool { return atomic.LoadUint32(&q.c.state) == qClosed }

// count is the number of records queued now.
func (q *Queue) count() uint32 {
	tc, _ := pos(atomic.LoadUint64(&q.c.tail))
	hc, _ := pos(atomic.LoadUint64(&q.c.head))
	return tc - hc
}

// roomFor reports whether a record of size bytes fits now (and maxItems
// allows one more).
func (q *Queue) roomFor(size uint32) bool {
	tail := atomic.LoadUint64(&q.c.tail)
	head := atomic.LoadUint64(&q.c.head)
	if q.g.MaxItems > 0 && pos32(tail)-pos32(head) >= uint32(q.g.MaxItems) {
		return false
	}
	_, _, _, ok := q.d.place(tail, head, size)
	return ok
}

func pos32(w uint64) uint32 { return uint32(w >> 32) }

// A Fill writes a record's payload into dst (len n, in the ring), with the
// producers' lock held: a copy, nothing slow. An error puts nothing.
type Fill func(dst []byte) error

// TryPut puts one record of n payload bytes without waiting: ErrFull when
// there is no room now, ErrClosed when the queue is closed for everyone.
func (q *Queue) TryPut(n int, kind uint32, fill Fill) error {
	return q.putOne(context.Background(), n, kind, fill, false)
}

func (q *Queue) putOne(ctx context.Context, n int, kind uint32, fill Fill, block bool) error {
	r, err := q.Reserve(ctx, n, kind, block)
	if err != nil {
		return err
	}
	if err := fill(r.Payload); err != nil {
		r.Abort()
		return err
	}
	r.Commit()
	return nil
}

// Put puts one record of n payload bytes, waiting for room until ctx ends.
func (q *Queue) Put(ctx context.Context, n int, kind uint32, fill Fill) error {
	return q.putOne(ctx, n, kind, fill, true)
}

// PutBatch puts len(sizes) records, record i of sizes[i] payload bytes and
// kind kinds[i] (KindItem for all when kinds is nil) filled by fill(i,
// dst), in order, as many per commit as fit; with block
// it waits for room as needed until ctx ends (then the records put so far
// stay put, and the error says how many). Without block a batch that does
// not fit at once puts what fits and returns ErrFull.
func (q *Queue) PutBatch(ctx context.Context, sizes []int, kinds []uint32, fill func(i int, dst []byte) error, block bool) error {
	defer runtime.KeepAlive(q)
	for i, n := range sizes {
		if n < 0 || n > q.MaxRecord() {
			return fmt.Errorf("record %d of %d bytes: at most %d fit this %d-byte ring", i, n, q.MaxRecord(), q.d.cap)
		}
	}
	done := 0
	for done < len(sizes) {
		if q.life != nil && q.life.Closed() {
			return wait.ErrClosed
		}
		if err := q.lockProd(ctx); err != nil {
			return err
		}
		if q.closedForAll() {
			q.prod.Unlock()
			return ErrClosed
		}
		var ks []uint32
		if kinds != nil {
			ks = kinds[done:]
		}
		k, err := q.putLocked(sizes[done:], ks, func(i int, dst []byte) error { return fill(done+i, dst) })
		q.prod.Unlock()
		done += k
		if k > 0 {
			q.wakeConsumers(k)
		}
		if err != nil {
			return err
		}
		if done == len(sizes) {
			return nil
		}
		if !block {
			return ErrFull
		}
		if err := q.waitRoom(ctx, uint32(RecordSize(sizes[done]))); err != nil {
			return err
		}
	}
	return nil
}

// putLocked writes as many of the records as fit, with prodLock held, and
// commits them with one tail store. It returns how many it put.
func (q *Queue) putLocked(sizes []int, kinds []uint32, fill func(i int, dst []byte) error) (int, error) {
	tail := atomic.LoadUint64(&q.c.tail)
	head := atomic.LoadUint64(&q.c.head)
	next := tail
	k := 0
	var err error
	for k < len(sizes) {
		if q.g.MaxItems > 0 && pos32(next)-pos32(head) >= uint32(q.g.MaxItems) {
			break
		}
		at, pad, after, ok := q.d.place(next, head, uint32(RecordSize(sizes[k])))
		if !ok {
			break
		}
		kind := uint32(KindItem)
		if kinds != nil {
			kind = kinds[k]
		}
		if err = fill(k, q.d.writeHeader(at, sizes[k], kind)); err != nil {
			break // this record is not committed
		}
		if pad {
			_, off := pos(next)
			q.d.writePad(off)
		}
		next = after
		k++
	}
	if k > 0 {
		q.commitTail(next)
	}
	return k, err
}

// commitTail stores the new tail: the commit of a put — of a joinable
// queue's unfinished count too, which is derived from it (join.go).
func (q *Queue) commitTail(next uint64) {
	atomic.StoreUint64(&q.c.tail, next)
}

func (q *Queue) wakeConsumers(k int) {
	if atomic.LoadUint32(&q.c.consWaiting) != 0 {
		atomic.AddUint32(&q.c.notEmpty, 1)
		futex.Wake(&q.c.notEmpty, k)
	}
}

func (q *Queue) wakeProducers() {
	if atomic.LoadUint32(&q.c.prodWaiting) != 0 {
		atomic.AddUint32(&q.c.notFull, 1)
		futex.WakeAll(&q.c.notFull)
	}
}

// A Reservation is room for one record, with the producers' lock held:
// write the payload into Payload, then Commit (which publishes it and lets
// go of the lock) or Abort (which leaves the ring as it was). The
// single-record path of a put, with no function value to allocate.
type Reservation struct {
	Payload []byte
	q       *Queue
	tail    uint64 // the tail before
	next    uint64 // the tail after
	padAt   uint32
	pad     bool
}

// Reserve waits (when block) for room for a record of n payload bytes and
// kind, takes the producers' lock and returns the room. Without block it
// returns ErrFull when there is no room now. ErrClosed once the queue is
// closed for everyone.
func (q *Queue) Reserve(ctx context.Context, n int, kind uint32, block bool) (Reservation, error) {
	if n < 0 || n > q.MaxRecord() {
		return Reservation{}, fmt.Errorf("record of %d bytes: at most %d fit this %d-byte ring", n, q.MaxRecord(), q.d.cap)
	}
	size := uint32(RecordSize(n))
	for {
		if q.life != nil && q.life.Closed() {
			return Reservation{}, wait.ErrClosed
		}
		if err := q.lockProd(ctx); err != nil {
			return Reservation{}, err
		}
		if q.closedForAll() {
			q.prod.Unlock()
			return Reservation{}, ErrClosed
		}
		tail := atomic.LoadUint64(&q.c.tail)
		if head, ok := q.headFor(tail, size); ok {
			if at, pad, next, ok := q.d.place(tail, head, size); ok {
				_, off := pos(tail)
				return Reservation{Payload: q.d.writeHeader(at, n, kind), q: q, tail: tail, next: next, padAt: off, pad: pad}, nil
			}
		}
		q.prod.Unlock()
		if !block {
			return Reservation{}, ErrFull
		}
		if err := q.waitRoom(ctx, size); err != nil {
			return Reservation{}, err
		}
	}
}

// Commit publishes the record and lets go of the producers' lock.
func (r *Reservation) Commit() {
	q := r.q
	if r.pad {
		q.d.writePad(r.padAt)
	}
	q.commitTail(r.next)
	if q.headTail == r.tail {
		q.headTail = r.next // headSeen goes on with our own tail
	}
	q.prod.Unlock()
	q.wakeConsumers(1)
	runtime.KeepAlive(q)
}

// Abort lets go of the producers' lock with nothing put.
func (r *Reservation) Abort() {
	r.q.prod.Unlock()
	runtime.KeepAlive(r.q)
}

// A Taken is the record at the front of the queue, with the consumers'
// lock held: read Payload (in the ring), then Done (which removes it and
// lets go of the lock) or Keep (which leaves it for the next Get).
type Taken struct {
	Kind    uint32
	Payload []byte
	q       *Queue
	next    uint64
}

// Take waits (when block) for a record, takes the consumers' lock and
// returns the record at the front. Without block it returns ErrEmpty when
// there is none; ErrClosed once the queue is closed for everyone and
// drained. A record that does not parse (foreign bytes) is an error
// wrapping ErrCorrupt, with the lock let go.
func (q *Queue) Take(ctx context.Context, block bool) (Taken, error) {
	for {
		if q.life != nil && q.life.Closed() {
			return Taken{}, wait.ErrClosed
		}
		if err := q.lockCons(ctx); err != nil {
			return Taken{}, err
		}
		head := atomic.LoadUint64(&q.c.head)
		if _, ok := q.tailFor(head); ok {
			kind, payload, next, err := q.d.read(head)
			if err != nil {
				q.cons.Unlock()
				return Taken{}, err
			}
			return Taken{Kind: kind, Payload: payload, q: q, next: next}, nil
		}
		q.cons.Unlock()
		if q.closedForAll() && q.count() == 0 {
			return Taken{}, ErrClosed
		}
		if !block {
			return Taken{}, ErrEmpty
		}
		if err := q.waitRecords(ctx); err != nil {
			return Taken{}, err
		}
	}
}

// Done removes the record and lets go of the consumers' lock.
func (t *Taken) Done() {
	q := t.q
	q.commitHead(t.next, 1)
	q.cons.Unlock()
	q.wakeProducers()
	runtime.KeepAlive(q)
}

// Keep lets go of the consumers' lock and leaves the record queued.
func (t *Taken) Keep() {
	t.q.cons.Unlock()
	runtime.KeepAlive(t.q)
}

// A Take receives a record's kind and payload (in the ring, valid only
// during the call), with the consumers' lock held: it copies what it needs.
// An error leaves the record in the queue.
type Take func(kind uint32, payload []byte) error

// TryGet takes one record without waiting: ErrEmpty when there is none,
// ErrClosed when the queue is closed for everyone and drained.
func (q *Queue) TryGet(take Take) error { return q.getOne(context.Background(), take, false) }

// Get takes one record, waiting for one until ctx ends.
func (q *Queue) Get(ctx context.Context, take Take) error { return q.getOne(ctx, take, true) }

func (q *Queue) getOne(ctx context.Context, take Take, block bool) error {
	t, err := q.Take(ctx, block)
	if err != nil {
		return err
	}
	if err := take(t.Kind, t.Payload); err != nil {
		t.Keep()
		return err
	}
	t.Done()
	return nil
}

// GetBatch takes up to max records, in order, with one commit: at least
// one, waiting for it when block is set. It returns how many it took.
func (q *Queue) GetBatch(ctx context.Context, max int, take Take, block bool) (int, error) {
	defer runtime.KeepAlive(q)
	if max < 1 {
		return 0, fmt.Errorf("GetBatch of %d records: want at least 1", max)
	}
	for {
		if q.life != nil && q.life.Closed() {
			return 0, wait.ErrClosed
		}
		if err := q.lockCons(ctx); err != nil {
			return 0, err
		}
		k, err := q.getLocked(max, take)
		q.cons.Unlock()
		if k > 0 {
			q.wakeProducers()
			return k, err
		}
		if err != nil {
			return 0, err
		}
		if q.closedForAll() && q.count() == 0 {
			return 0, ErrClosed
		}
		if !block {
			return 0, ErrEmpty
		}
		if err := q.waitRecords(ctx); err != nil {
			return 0, err
		}
	}
}

// getLocked reads up to max records with consLock held and commits them
// with one head store.
func (q *Queue) getLocked(max int, take Take) (int, error) {
	head := atomic.LoadUint64(&q.c.head)
	tail := atomic.LoadUint64(&q.c.tail)
	next := head
	k := 0
	var err error
	for k < max && pos32(tail)-pos32(next) > 0 {
		kind, payload, after, rerr := q.d.read(next)
		if rerr != nil {
			err = rerr
			break
		}
		if err = take(kind, payload); err != nil {
			break
		}
		next = after
		k++
	}
	if k > 0 {
		q.commitHead(next, k)
	}
	return k, err
}

// Len is the number of records queued now (a snapshot).
func (q *Queue) Len() int {
	defer runtime.KeepAlive(q)
	return int(q.count())
}

// Used is the ring bytes the queued records take now, pads included.
func (q *Queue) Used() int {
	defer runtime.KeepAlive(q)
	return int(q.d.used(atomic.LoadUint64(&q.c.tail), atomic.LoadUint64(&q.c.head)))
}

// Full reports whether a record of n payload bytes would have to wait now.
func (q *Queue) Full(n int) bool {
	defer runtime.KeepAlive(q)
	return !q.roomFor(uint32(RecordSize(n)))
}

// ClosedForAll reports whether CloseAll was called, in any process.
func (q *Queue) ClosedForAll() bool {
	defer runtime.KeepAlive(q)
	return q.closedForAll()
}

// CloseAll closes the queue for everyone: puts fail with ErrClosed from
// now on, gets drain what is left and then fail with it.
func (q *Queue) CloseAll(ctx context.Context) error {
	defer runtime.KeepAlive(q)
	if err := q.lockProd(ctx); err != nil {
		return err
	}
	atomic.StoreUint32(&q.c.state, qClosed)
	q.prod.Unlock()
	q.Kick()
	return nil
}

// Kick wakes every sleeper of the queue, in every process, so that each
// re-checks its state (CloseAll, and a handle's Close for its own).
func (q *Queue) Kick() {
	for _, w := range []*uint32{&q.c.notEmpty, &q.c.notFull, &q.c.joinSeq} {
		atomic.AddUint32(w, 1)
		futex.WakeAll(w)
	}
	q.prod.Kick()
	q.cons.Kick()
	runtime.KeepAlive(q)
}

// waitRecords waits until a record is queued, the queue is closed for
// everyone, or ctx ends (see the protocol).
func (q *Queue) waitRecords(ctx context.Context) error {
	ready := func() bool { return q.count() > 0 || q.closedForAll() }
	return q.await(ctx, q.emptyGate, &q.c.notEmpty, &q.c.consWaiting, ready, false)
}

// waitRoom waits until a record of size bytes fits.
func (q *Queue) waitRoom(ctx context.Context, size uint32) error {
	ready := func() bool { return q.roomFor(size) || q.closedForAll() }
	return q.await(ctx, q.fullGate, &q.c.notFull, &q.c.prodWaiting, ready, true)
}

// await is the waiting of both sides: gate, spin, then sleeps on word with
// the waiting count raised. When the wait ends, the gate goes to the next
// goroutine of this process (changed: all of them re-check).
func (q *Queue) await(ctx context.Context, gate *wait.Gate, word, waiting *uint32, ready func() bool, changed bool) error {
	held, err := gate.Enter(ctx, q.life, ready)
	if !held {
		return err // nil: ready while parked
	}
	if changed {
		defer gate.LeaveChanged()
	} else {
		defer gate.Leave()
	}
	if wait.SpinUntil(ready) {
		return nil
	}
	atomic.AddUint32(waiting, 1)
	defer atomic.AddUint32(waiting, ^uint32(0))
	sl := wait.NewSleeper(ctx, word, q, q.life)
	defer sl.Stop()
	for {
		seq := atomic.LoadUint32(word)
		if ready() {
			return nil
		}
		if _, err := sl.Sleep(seq); err != nil {
			return err
		}
	}
}
