package pool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"runtime"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// A Queue is Python's multiprocessing.Queue for Go processes: items of
// type T put by any number of producers, in any processes, and taken by
// any number of consumers, each item exactly once, in the order it was put
// by its producer.
//
// It is a ring of records in one shared segment (internal/ring), not a pipe
// with a feeder thread: a Put is done when it returns — there is no flush
// to wait for, and a process may exit at once — and a producer or consumer
// killed at any instruction, even holding the queue's lock, leaves no torn,
// lost, duplicated or resurrected item behind (an item a killed consumer
// had taken is gone with it: it was taken exactly once).
//
// Items are carried by a codec (see WithCodec): plain fixed-size types,
// []byte and string with no encoding at all, anything else in a compact
// binary format. Items larger than a quarter of the ring travel in a side
// segment of their own, so any size works; such an item belongs to the
// queue, not to its producer (which may exit at once), and ends with the
// queue: when its name is gone and its last handle closes.
//
// Shutdown closes the queue for everyone — the Go form of "no more items",
// which Python users emulate with counted sentinels: Puts fail, Gets drain
// what is left and then fail, with ErrShutDown.
//
// A Queue's methods are safe for concurrent use by goroutines; the queue
// itself is shared by processes that open it by Name. It marshals as its
// name (encoding.TextMarshaler), so a Queue inside a task's argument or
// another queue's item arrives open in the other process.
type Queue[T any] struct {
	obj  *segment.Object
	q    *ring.Queue
	k    *carrier[T]
	life wait.Handle
}

// SimpleQueue is Python's SimpleQueue: this package's Queue is it already
// (no feeder thread, no flush, puts that are done when they return).
type SimpleQueue[T any] = Queue[T]

// NewSimpleQueue is NewQueue, for code ported from Python's SimpleQueue.
func NewSimpleQueue[T any](opts ...QueueOption) (*Queue[T], error) { return NewQueue[T](opts...) }

// NewQueue creates a queue of items of type T. Options: MaxSize (Python's
// maxsize), Capacity (bytes of the ring), WithCodec, Name, Persistent,
// Mode. A T that cannot be encoded (a func, a chan, anywhere inside it) is
// refused, naming it.
func NewQueue[T any](opts ...QueueOption) (*Queue[T], error) {
	return createQueue[T](false, opts)
}

// OpenQueue opens the queue called name, made by NewQueue or
// NewJoinableQueue in any process, with items of type T and the same codec;
// another T is refused with ErrTypeMismatch naming both. A missing name is
// an error wrapping fs.ErrNotExist.
func OpenQueue[T any](name string, opts ...QueueOption) (*Queue[T], error) {
	o := segment.Collect[queueOptions](opts)
	return openQueue[T](name, o, false)
}

func createQueue[T any](joinable bool, opts []QueueOption) (*Queue[T], error) {
	o := segment.Collect[queueOptions](opts)
	c, info, err := itemCodec[T](o)
	if err != nil {
		return nil, fmt.Errorf("pool: NewQueue[%s]: %w", reflect.TypeFor[T](), err)
	}
	capacity := DefaultCapacity
	if o.hasCapacity {
		capacity = (o.capacity + 7) &^ 7
		if o.capacity < ring.MinCapacity || o.capacity > ring.MaxCapacity {
			return nil, fmt.Errorf("pool: NewQueue: %w: Capacity(%d): must be from %d to %d bytes", ErrInvalidArgument, o.capacity, ring.MinCapacity, ring.MaxCapacity)
		}
	}
	if o.maxSize < 0 || o.maxSize > 1<<31-1 {
		return nil, fmt.Errorf("pool: NewQueue: %w: MaxSize(%d): must be from 0 (no limit) to %d", ErrInvalidArgument, o.maxSize, 1<<31-1)
	}
	if o.maxSize > 0 {
		// The smallest record an item of T can take: its encoding's size
		// if fixed, else one byte (an empty []byte or string).
		least := ring.RecordSize(max(int(info.Size), 0))
		if most := capacity / least; o.maxSize > most {
			return nil, fmt.Errorf("pool: NewQueue: %w: MaxSize(%d): a %d-byte ring holds at most %d items of %s (%d bytes each in the ring); give a larger Capacity",
				ErrInvalidArgument, o.maxSize, capacity, most, info.Type, least)
		}
	}
	g := ring.Geometry{Capacity: capacity, MaxItems: o.maxSize, Joinable: joinable, ItemFormat: uint32(info.ID)}
	ti := layout.TypeInfo{Name: info.Type, Size: info.Size, Hash: info.Hash}
	obj, err := segment.CreateObject(segment.ObjectSpec{
		Kind:        layout.KindQueue,
		PayloadSize: ring.QueuePayloadSize(capacity),
		Elem:        &ti,
	}, o.Options, func(p []byte) error { return ring.InitQueue(p, g) })
	if err != nil {
		return nil, err
	}
	q := new(Queue[T])
	if err := q.attach(obj, c, info); err != nil {
		obj.Unlink()
		obj.Close()
		return nil, err
	}
	return q, nil
}

func openQueue[T any](name string, o queueOptions, joinable bool) (*Queue[T], error) {
	q := new(Queue[T])
	if err := q.open(name, o, joinable); err != nil {
		return nil, err
	}
	return q, nil
}

// open opens the queue called name into q, a zero Queue.
func (q *Queue[T]) open(name string, o queueOptions, joinable bool) error {
	c, want, err := itemCodec[T](o)
	if err != nil {
		return fmt.Errorf("pool: OpenQueue[%s]: %w", reflect.TypeFor[T](), err)
	}
	obj, err := segment.OpenObject(name, layout.KindQueue, nil, o.Open())
	if err != nil {
		return err
	}
	fail := func(err error) error {
		obj.Close()
		return &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	h := obj.Header
	got := codec.Info{Hash: h.TypeHash, Size: h.ElemSize, Type: h.TypeNameString()}
	if err := q.attach(obj, c, want); err != nil {
		return fail(err)
	}
	got.ID = codec.ID(q.q.Geometry().ItemFormat)
	if err := want.Match(obj.Name, got); err != nil {
		return fail(err)
	}
	if joinable && !q.q.Geometry().Joinable {
		return fail(fmt.Errorf("%w: %s is a Queue, not a JoinableQueue", ErrKindMismatch, obj.Name))
	}
	return nil
}

// attach makes q, a zero Queue, the handle on the queue in obj.
func (q *Queue[T]) attach(obj *segment.Object, c codec.Codec[T], info codec.Info) error {
	q.obj = obj
	q.life.Init()
	rq, err := ring.Attach(obj, &q.life)
	if err != nil {
		return err
	}
	q.q = rq
	q.k = newCarrier(c, info, rq.MaxRecord(), obj.File, fmt.Sprintf("pool: Queue[%s] %s", reflect.TypeFor[T](), obj.Name))
	return nil
}

// Name returns the queue's name, for OpenQueue in another process.
func (q *Queue[T]) Name() string { return q.obj.Name }

// Put puts x at the end of the queue, waiting while it is full (MaxSize
// items queued, or no room in the ring) until ctx ends. It returns
// ErrShutDown after Shutdown, ErrClosed after Close, ctx.Err() if ctx
// ended first (x is then not queued), and an error naming x's type if it
// cannot be encoded (nothing is queued).
func (q *Queue[T]) Put(ctx context.Context, x T) error {
	return q.put(ctx, &x, true)
}

// TryPut is Put without waiting: ErrFull when the queue has no room now.
func (q *Queue[T]) TryPut(x T) error {
	return q.put(context.Background(), &x, false)
}

func (q *Queue[T]) put(ctx context.Context, x *T, block bool) error {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return q.closedErr("Put")
	}
	o, err := q.k.encode(x)
	if err != nil {
		return err
	}
	r, err := q.q.Reserve(ctx, o.n, o.kind, block)
	if err == nil {
		if err = q.k.fill(&o, r.Payload); err != nil {
			r.Abort()
		} else {
			r.Commit()
		}
	}
	q.k.done(&o, err)
	return q.opError("Put", err)
}

// PutBatch puts every item of xs, in order, as few times taking the
// queue's lock as the ring allows: the fast way to put many small items.
// It waits for room as Put does; if ctx ends or the queue is shut down
// part way, the items before the first not put stay queued, and the error
// says how many were.
func (q *Queue[T]) PutBatch(ctx context.Context, xs []T) error {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return q.closedErr("PutBatch")
	}
	if len(xs) == 0 {
		return nil
	}
	if sizes, ok := q.k.sizesInPlace(xs); ok {
		// Every item is encoded in place: no scratch, no per-item state.
		put := 0
		err := q.q.PutBatch(ctx, sizes, nil, func(i int, dst []byte) error {
			if err := q.k.fill(&outgoing[T]{n: sizes[i], x: &xs[i]}, dst); err != nil {
				return err
			}
			put = i + 1
			return nil
		}, true)
		if err != nil {
			return fmt.Errorf("%w (%d of %d items put)", q.opError("PutBatch", err), put, len(xs))
		}
		return nil
	}
	outs := make([]outgoing[T], len(xs))
	sizes := make([]int, len(xs))
	kinds := make([]uint32, len(xs))
	for i := range xs {
		o, err := q.k.encode(&xs[i])
		if err != nil {
			for j := range i {
				q.k.done(&outs[j], err)
			}
			return fmt.Errorf("item %d: %w", i, err)
		}
		outs[i], sizes[i], kinds[i] = o, o.n, o.kind
	}
	put := 0
	err := q.q.PutBatch(ctx, sizes, kinds, func(i int, dst []byte) error {
		if err := q.k.fill(&outs[i], dst); err != nil {
			return err
		}
		put = i + 1
		return nil
	}, true)
	for i := range outs {
		var e error
		if i >= put {
			e = errNotPut
		}
		q.k.done(&outs[i], e)
	}
	if err != nil {
		return fmt.Errorf("%w (%d of %d items put)", q.opError("PutBatch", err), put, len(xs))
	}
	return nil
}

var errNotPut = errors.New("not put")

// Get takes the item at the front of the queue, waiting while it is empty
// until ctx ends. It returns ErrShutDown once the queue is shut down and
// drained, ErrClosed after Close, ctx.Err() if ctx ended first (nothing is
// taken), and an error wrapping ErrCorrupt for an item whose bytes do not
// decode (that item is removed: a queue never stalls on one).
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	return q.get(ctx, true)
}

// TryGet is Get without waiting: ErrEmpty when the queue holds nothing.
func (q *Queue[T]) TryGet() (T, error) {
	return q.get(context.Background(), false)
}

func (q *Queue[T]) get(ctx context.Context, block bool) (T, error) {
	defer runtime.KeepAlive(q)
	var zero T
	if q.life.Closed() {
		return zero, q.closedErr("Get")
	}
	t, err := q.q.Take(ctx, block)
	if err != nil {
		return zero, q.opError("Get", err)
	}
	var in incoming[T]
	q.k.take(&in, t.Kind, t.Payload)
	t.Done()
	return q.k.finish(&in)
}

// GetBatch takes up to max items from the front of the queue in one go —
// at least one, waiting for it as Get does — and returns them in order. An
// item that does not decode is left out and reported in the error, beside
// the items that did.
func (q *Queue[T]) GetBatch(ctx context.Context, max int) ([]T, error) {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return nil, q.closedErr("GetBatch")
	}
	if max < 1 {
		return nil, fmt.Errorf("pool: GetBatch of %d items on Queue %s: %w: want at least 1", max, q.Name(), ErrInvalidArgument)
	}
	// Items the codec decodes in place go straight into out; the others
	// (encoded items, side segments) are copied out and decoded after the
	// lock is let go, keeping their places in the order.
	out := make([]T, 0, min(max, 64))
	var later []int // indexes in out of items still to decode
	var ins []incoming[T]
	var errs []error
	take := func(kind uint32, p []byte) error {
		var in incoming[T]
		q.k.take(&in, kind, p)
		if in.decoded {
			if in.err != nil {
				_, err := q.k.finish(&in)
				errs = append(errs, err)
				return nil
			}
			out = append(out, in.v)
			return nil
		}
		later = append(later, len(out))
		ins = append(ins, in)
		var zero T
		out = append(out, zero)
		return nil
	}
	if _, err := q.q.GetBatch(ctx, max, take, true); err != nil {
		return nil, q.opError("GetBatch", err)
	}
	if len(later) > 0 {
		bad := map[int]bool{}
		for j, i := range later {
			v, err := q.k.finish(&ins[j])
			if err != nil {
				errs = append(errs, err)
				bad[i] = true
				continue
			}
			out[i] = v
		}
		if len(bad) > 0 {
			kept := out[:0]
			for i, v := range out {
				if !bad[i] {
					kept = append(kept, v)
				}
			}
			out = kept
		}
	}
	return out, errors.Join(errs...)
}

// Len returns the number of items in the queue now (Python's qsize): a
// snapshot, as other processes change it at any time.
func (q *Queue[T]) Len() int {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return 0
	}
	return q.q.Len()
}

// Empty reports whether the queue holds no item now.
func (q *Queue[T]) Empty() bool { return q.Len() == 0 }

// Full reports whether a Put of the smallest item of T would wait now
// (MaxSize items queued, or a ring with no room left).
func (q *Queue[T]) Full() bool {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return false
	}
	return q.q.Full(int(q.k.info.Size))
}

// Shutdown closes the queue for everyone, in every process: Puts fail with
// ErrShutDown from now on, Gets drain the items left and then fail with it
// (Python 3.13's Queue.shutdown). It waits for the queue's lock at most
// until ctx ends.
func (q *Queue[T]) Shutdown(ctx context.Context) error {
	defer runtime.KeepAlive(q)
	if q.life.Closed() {
		return q.closedErr("Shutdown")
	}
	return q.opError("Shutdown", q.q.CloseAll(ctx))
}

// IsShutDown reports whether the queue was shut down, by any process.
func (q *Queue[T]) IsShutDown() bool {
	defer runtime.KeepAlive(q)
	return !q.life.Closed() && q.q.ClosedForAll()
}

// Close releases this process's handle on the queue: calls waiting on it
// return ErrClosed, later calls fail with it, and — for a queue made
// without a Name, by this handle — the queue's name goes, while processes
// that have it open keep using it (see the package's Lifetime section). Items in
// the queue stay for the others. Close is idempotent.
func (q *Queue[T]) Close() error {
	if !q.life.Close(q.q.Kick) {
		return nil
	}
	return closeOwner(q.obj.File)
}

// Unlink removes the queue's name, so no other process can open it;
// handles already open keep working until closed. Items waiting in side
// segments (those too large for the ring) go once the last handle closes.
func (q *Queue[T]) Unlink() error { return unlinkOwner(q.obj.File, q.life.Closed()) }

// closedErr is the error of a call on a closed handle.
func (q *Queue[T]) closedErr(op string) error {
	return fmt.Errorf("pool: %s on Queue %s: %w", op, q.obj.Name, ErrClosed)
}

// opError turns the ring's errors into this package's, naming the queue.
func (q *Queue[T]) opError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ring.ErrClosed):
		return fmt.Errorf("pool: %s on Queue %s: %w", op, q.obj.Name, ErrShutDown)
	case errors.Is(err, wait.ErrClosed):
		return q.closedErr(op)
	case errors.Is(err, ErrFull), errors.Is(err, ErrEmpty),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("pool: %s on Queue %s: %w", op, q.obj.Name, err)
}
