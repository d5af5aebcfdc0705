package pool

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/codec"
)

// The caller's side of a call: cut the items into chunks (encoding their
// arguments), hand them to the loop, and decode the outcomes the loop
// delivers to the call's mailbox.

// Map runs f on every item of xs on the pool's workers and returns the
// results in order, as Python's Pool.map. Items travel chunksize at a time
// (Chunksize; by default Python's len(xs)/(4×workers), rounded up).
//
// When tasks fail, Map still returns every result it got, the failed
// tasks' slots holding the zero Out, with a *MapError listing each
// failure (errors.As finds the *TaskError or *WorkerDiedError of the first
// one, with its index). When ctx ends, the call's tasks are cancelled in
// the workers and Map returns ctx's error.
func (f *Func[In, Out]) Map(ctx context.Context, p *Pool, xs []In, opts ...CallOption) ([]Out, error) {
	o, err := callOpts(opts)
	if err != nil {
		return nil, fmt.Errorf("pool: Map(%s): %w", f.nameOr(), err)
	}
	return f.mapSlice("Map", ctx, p, xs, o)
}

// defaultChunksize is Python's: len(items) / (4 × workers), rounded up.
func defaultChunksize(n, workers int) int {
	c, extra := n/(4*workers), n%(4*workers)
	if extra != 0 {
		c++
	}
	return max(c, 1)
}

// Apply runs f(x) on one of the pool's workers and returns its result, as
// Python's Pool.apply. A failure is the task's error (a *TaskError or a
// *WorkerDiedError); when ctx ends, the task is cancelled in its worker.
func (f *Func[In, Out]) Apply(ctx context.Context, p *Pool, x In) (Out, error) {
	out, err := f.mapSlice("Apply", ctx, p, []In{x}, callOptions{chunksize: 1})
	var me *MapError
	if errors.As(err, &me) && len(me.Failed) == 1 && me.Stopped == nil {
		err = me.Failed[0]
	}
	if len(out) == 1 {
		return out[0], err
	}
	var zero Out
	return zero, err
}

// ApplyAsync starts f(x) on the pool and returns at once, as Python's
// apply_async: the AsyncResult's Get waits for the outcome. ctx bounds the
// task, not the waiting: when it ends, the task is cancelled.
func (f *Func[In, Out]) ApplyAsync(ctx context.Context, p *Pool, x In) *AsyncResult[Out] {
	return goAsync(func() (Out, error) { return f.Apply(ctx, p, x) })
}

// MapAsync starts Map and returns at once, as Python's map_async.
func (f *Func[In, Out]) MapAsync(ctx context.Context, p *Pool, xs []In, opts ...CallOption) *AsyncResult[[]Out] {
	return goAsync(func() ([]Out, error) { return f.Map(ctx, p, xs, opts...) })
}

// Imap runs f on the items of xs as they come and yields the outcomes in
// order, as Python's Pool.imap, but lazily: xs is read only as far as the
// results are taken (a window of 8 chunks per worker ahead of the one the
// range waits for), so an endless or huge input runs in bounded memory.
// Chunksize defaults to 1, as Python's.
//
// Each outcome is a result and nil, or the zero Out and the task's error
// (a *TaskError or *WorkerDiedError carrying its index); the range goes on
// after a failed task. When ctx ends or the pool stops, the range yields
// that error once and ends. Breaking out of the range cancels the tasks
// still running. xs is ranged over on a goroutine of its own; a panic in
// it is raised again in the range.
func (f *Func[In, Out]) Imap(ctx context.Context, p *Pool, xs iter.Seq[In], opts ...CallOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) { f.imap("Imap", ctx, p, xs, true, opts, yield) }
}

// ImapUnordered is Imap yielding the outcomes as they finish, as Python's
// imap_unordered. A failed task's error says its index; a result does not.
func (f *Func[In, Out]) ImapUnordered(ctx context.Context, p *Pool, xs iter.Seq[In], opts ...CallOption) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) { f.imap("ImapUnordered", ctx, p, xs, false, opts, yield) }
}

func (f *Func[In, Out]) nameOr() string {
	if f == nil {
		return "nil"
	}
	return f.name
}

func callOpts(opts []CallOption) (callOptions, error) {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.chunksize < 0 {
		return o, fmt.Errorf("%w: Chunksize(%d): must be at least 1", ErrInvalidArgument, o.chunksize)
	}
	return o, nil
}

// begin checks that f and p can take a call, and makes its state.
func (f *Func[In, Out]) begin(op string, p *Pool) (*callState, error) {
	if err := f.check("pool: " + op); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("pool: %s(%s): %w: a nil *Pool", op, f.name, ErrInvalidArgument)
	}
	if p.closed.Load() {
		return nil, fmt.Errorf("pool: %s(%s): %w", op, f.name, p.stopped())
	}
	recv, err := f.appendRecv(nil)
	if err != nil {
		return nil, err
	}
	cs := &callState{id: p.callIDs.Add(1), fn: f.name, recv: recv, soft: p.opts.soft, hard: p.opts.hard}
	cs.outSize, _ = codec.Layout(f.outC)
	cs.box.init()
	return cs, nil
}

// chunker cuts encoded arguments into chunks of size tasks, or of
// maxBytes bytes of arguments if that comes first (0: no limit).
type chunker struct {
	cs       *callState
	size     int
	maxBytes int
	fixed    int // every argument's size (codec.Layout): no ends
	cur      *chunk
	next     int // the call's index of the next task
	last     int // the capacity the chunk before took
}

// defaultChunkBytes caps the chunks of Python's default chunking: a
// chunk of a million small items would take a side segment instead of the
// worker's ring and keep the other workers waiting for its end; 64 KiB
// still makes each chunk thousands of trivial tasks.
const defaultChunkBytes = 64 << 10

// add appends one encoded argument; a full chunk is returned.
func (k *chunker) add(encode func([]byte) ([]byte, error)) (*chunk, error) {
	if k.cur == nil {
		k.cur = &chunk{call: k.cs, first: k.next, size: k.fixed}
		if k.last > 0 { // the size of the chunk before
			k.cur.args = make([]byte, 0, k.last)
			if k.fixed == 0 {
				k.cur.ends = make([]uint32, 0, k.size)
			}
		}
	}
	c := k.cur
	args, err := encode(c.args)
	if err != nil {
		return nil, err
	}
	if k.fixed > 0 && len(args)-len(c.args) != k.fixed {
		return nil, fmt.Errorf("%w: an argument took %d bytes, not %d", ErrCorrupt, len(args)-len(c.args), k.fixed)
	}
	c.args = args
	if k.fixed == 0 {
		c.ends = append(c.ends, uint32(len(args)))
	}
	k.next++
	if len(args) >= 1<<31-1 {
		return nil, fmt.Errorf("%w: a chunk's arguments pass 2 GiB: lower Chunksize", ErrTooLarge)
	}
	if c.n() >= k.size || k.maxBytes > 0 && len(args) >= k.maxBytes {
		k.cur = nil
		k.last = cap(c.args)
		return c, nil
	}
	return nil, nil
}

// flush returns the chunk being filled, if any.
func (k *chunker) flush() *chunk {
	c := k.cur
	k.cur = nil
	return c
}

// submit queues chunks, and hands them to free workers.
func (p *Pool) submit(chunks []*chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	return p.eng.submitCall(chunks)
}

// cancelCall drops a call whose caller went away.
func (p *Pool) cancelCall(cs *callState) {
	p.eng.cancelCall(cs)
}

// mapSlice is Map, Apply and MapAsync.
func (f *Func[In, Out]) mapSlice(op string, ctx context.Context, p *Pool, xs []In, o callOptions) ([]Out, error) {
	cs, err := f.begin(op, p)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("pool: %s(%s): %w", op, f.name, ctx.Err())
	}
	chunks, err := f.cut(cs, xs, o.chunksize, p.n)
	if err != nil {
		return nil, fmt.Errorf("%w (a %s)", err, op)
	}
	out := make([]Out, len(xs))
	if len(xs) == 0 {
		return out, nil
	}
	if err := p.submit(chunks); err != nil {
		return nil, fmt.Errorf("pool: %s(%s): %w", op, f.name, err)
	}
	w := newWaiter(ctx, p, cs, o.progress, len(xs))
	defer w.finish()
	var failed []error
	var stopped error
	for left := len(xs); left > 0; {
		ds, err := w.next()
		if err != nil {
			p.cancelCall(cs)
			return nil, fmt.Errorf("pool: %s(%s): %w", op, f.name, err)
		}
		for _, d := range ds {
			if d.kind == deliverStopped {
				stopped = d.native
				left = 0
				break
			}
			if n, ok := copyResults(out, d); ok {
				left -= n
				w.done += n
				eachFailure(f, d, func(i int, err error) {
					failed = append(failed, err)
					w.failed++
				})
				continue
			}
			left -= eachOutcome(f, d, func(i int, v Out, err error) {
				if i < 0 || i >= len(out) {
					return
				}
				if err != nil {
					failed = append(failed, err)
					w.failed++
				} else {
					out[i] = v
				}
				w.done++
			})
		}
	}
	if len(failed) > 0 || stopped != nil {
		sortByIndex(failed)
		return out, &MapError{Op: op, Func: f.name, Tasks: len(xs), Failed: failed, Stopped: stopped}
	}
	return out, nil
}

// cut encodes xs into chunks of size tasks (0: Python's default, capped
// at defaultChunkBytes), for the call cs on a pool of workers.
//
// Every argument is encoded before any task runs, so that one that cannot
// be sent fails the call first. An argument type whose encoding is its
// memory is not encoded at all: each chunk is a view of xs, which the
// caller does not change while the call runs.
func (f *Func[In, Out]) cut(cs *callState, xs []In, size, workers int) ([]*chunk, error) {
	k := chunker{cs: cs, size: size}
	if k.size == 0 {
		k.size = defaultChunksize(len(xs), workers)
		k.maxBytes = defaultChunkBytes
	}
	if fixed, ok := codec.Layout(f.inC); ok && len(xs) > 0 {
		step := k.size
		if k.maxBytes > 0 {
			step = max(1, min(step, k.maxBytes/fixed))
		}
		all := unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), len(xs)*fixed)
		chunks := make([]*chunk, 0, (len(xs)+step-1)/step)
		for i := 0; i < len(xs); i += step {
			j := min(i+step, len(xs))
			chunks = append(chunks, &chunk{call: cs, first: i, args: all[i*fixed : j*fixed : j*fixed], size: fixed})
		}
		return chunks, nil
	}
	var chunks []*chunk
	for i := range xs {
		c, err := k.add(func(b []byte) ([]byte, error) { return f.appendArg(b, &xs[i]) })
		if err != nil {
			return nil, fmt.Errorf("%w (item %d)", err, i)
		}
		if c != nil {
			chunks = append(chunks, c)
		}
	}
	if c := k.flush(); c != nil {
		chunks = append(chunks, c)
	}
	return chunks, nil
}

// copyResults copies a delivery of results whose encoding is their memory
// straight into out (the failed tasks' slots left zero: eachOutcome then
// reports their errors). ok is false for any other delivery.
func copyResults[Out any](out []Out, d delivery) (n int, ok bool) {
	if d.size == 0 || d.kind != deliverOutcomes || d.native != nil {
		return 0, false
	}
	n = len(d.out) / d.size
	if d.first < 0 || d.first+n > len(out) || uintptr(d.size) != unsafe.Sizeof(out[0]) {
		return 0, false
	}
	if n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[d.first])), len(d.out)), d.out)
	}
	return n, true
}

// imap is Imap and ImapUnordered.
func (f *Func[In, Out]) imap(op string, ctx context.Context, p *Pool, xs iter.Seq[In], ordered bool, opts []CallOption, yield func(Out, error) bool) {
	var zero Out
	o, err := callOpts(opts)
	if err != nil {
		yield(zero, fmt.Errorf("pool: %s(%s): %w", op, f.nameOr(), err))
		return
	}
	cs, err := f.begin(op, p)
	if err != nil {
		yield(zero, err)
		return
	}
	if o.chunksize == 0 {
		o.chunksize = 1
	}
	fd := &feeder{window: newCredits(o.chunksize * maxAhead * 4 * p.n), stop: make(chan struct{})}
	go feed(fd, f, p, cs, xs, o.chunksize)
	defer func() {
		close(fd.stop)
		p.cancelCall(cs)
	}()

	w := newWaiter(ctx, p, cs, o.progress, -1)
	defer w.finish()
	type outcome struct {
		v   Out
		err error
	}
	held := map[int]outcome{} // ordered: outcomes ahead of the next to yield
	nextIdx, total := 0, -1
	for total < 0 || w.done < total {
		ds, err := w.next()
		if err != nil {
			yield(zero, fmt.Errorf("pool: %s(%s): %w", op, f.name, err))
			return
		}
		for _, d := range ds {
			switch d.kind {
			case deliverStopped:
				yield(zero, fmt.Errorf("pool: %s(%s): %w", op, f.name, d.native))
				return
			case deliverInputEnd:
				total = d.total
				w.total = total
				continue
			case deliverPanic:
				panic(d.panicked)
			}
			stop := false
			eachOutcome(f, d, func(i int, v Out, err error) {
				if stop {
					return
				}
				w.done++
				if err != nil {
					w.failed++
				}
				if !ordered {
					fd.window.release(1)
					stop = !yield(v, err)
					return
				}
				held[i] = outcome{v, err}
				for {
					x, ok := held[nextIdx]
					if !ok {
						break
					}
					delete(held, nextIdx)
					nextIdx++
					fd.window.release(1)
					if !yield(x.v, x.err) {
						stop = true
						return
					}
				}
			})
			if stop {
				return
			}
		}
	}
}

// A feeder ranges over an Imap's input on a goroutine of its own, at most
// window tasks ahead of the outcomes taken.
type feeder struct {
	window *credits
	stop   chan struct{} // closed when the range is over
}

func feed[In, Out any](fd *feeder, f *Func[In, Out], p *Pool, cs *callState, xs iter.Seq[In], size int) {
	n := 0
	defer func() {
		if r := recover(); r != nil {
			cs.box.put(delivery{kind: deliverPanic, panicked: r})
		}
	}()
	k := chunker{cs: cs, size: size}
	k.fixed, _ = codec.Layout(f.inC)
	send := func(c *chunk) bool {
		if err := p.submit([]*chunk{c}); err != nil {
			cs.box.put(delivery{kind: deliverStopped, native: err})
			return false
		}
		return true
	}
	for x := range xs {
		if !fd.window.acquire(fd.stop) {
			return
		}
		c, err := k.add(func(b []byte) ([]byte, error) { return f.appendArg(b, &x) })
		if err != nil {
			// This item cannot be sent: its outcome is the error, and the
			// tasks around it go on.
			if c := k.flush(); c != nil && c.n() > 0 && !send(c) {
				return
			}
			cs.box.put(failure(n, fmt.Errorf("pool: item %d: %w", n, err)))
			k.cur = nil
			k.next = n + 1
		} else if c != nil && !send(c) {
			return
		}
		n++
	}
	if c := k.flush(); c != nil && !send(c) {
		return
	}
	cs.box.put(delivery{kind: deliverInputEnd, total: n})
}

// credits bound how far an Imap's input runs ahead of its range.
type credits struct {
	mu    sync.Mutex
	free  int
	freed chan struct{}
}

func newCredits(n int) *credits { return &credits{free: n, freed: make(chan struct{}, 1)} }

// acquire takes one credit, waiting until one is free or stop is closed.
func (c *credits) acquire(stop <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.free > 0 {
			c.free--
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		select {
		case <-c.freed:
		case <-stop:
			return false
		}
	}
}

func (c *credits) release(n int) {
	c.mu.Lock()
	c.free += n
	c.mu.Unlock()
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// A waiter waits for a call's deliveries and reports its progress.
type waiter struct {
	ctx    context.Context
	p      *Pool
	cs     *callState
	report func(Progress)
	start  time.Time
	ticker *time.Ticker
	tick   <-chan time.Time
	done   int
	failed int
	total  int
	buf    []delivery
}

// progressEvery is how often WithProgress reports at most.
const progressEvery = 50 * time.Millisecond

func newWaiter(ctx context.Context, p *Pool, cs *callState, report func(Progress), total int) *waiter {
	w := &waiter{ctx: ctx, p: p, cs: cs, report: report, start: time.Now(), total: total}
	if report != nil {
		w.ticker = time.NewTicker(progressEvery)
		w.tick = w.ticker.C
	}
	return w
}

// next returns the deliveries that came, waiting for one; an error when
// ctx ends, or the pool stopped with nothing more for the call.
func (w *waiter) next() ([]delivery, error) {
	for {
		clear(w.buf)
		if w.buf = w.cs.box.take(w.buf[:0]); len(w.buf) > 0 {
			return w.buf, nil
		}
		select {
		case <-w.cs.box.ready:
		case <-w.tick:
			w.progress()
		case <-w.ctx.Done():
			return nil, w.ctx.Err()
		case <-w.p.done:
			if w.buf = w.cs.box.take(w.buf[:0]); len(w.buf) > 0 {
				return w.buf, nil
			}
			return nil, w.p.stopped()
		}
	}
}

func (w *waiter) progress() {
	if w.report == nil {
		return
	}
	w.report(Progress{Done: w.done, Failed: w.failed, Total: w.total, Elapsed: time.Since(w.start)})
}

// finish reports the call's last figures.
func (w *waiter) finish() {
	if w.ticker != nil {
		w.ticker.Stop()
		w.progress()
	}
}

// eachOutcome decodes a delivery's outcomes, calling fn with each task's
// index and result or error; it returns how many there were.
func eachOutcome[In, Out any](f *Func[In, Out], d delivery, fn func(i int, v Out, err error)) int {
	var zero Out
	if d.size > 0 {
		n := len(d.out) / d.size
		fails := 0
		for k := range n {
			if fails < len(d.failAt) && int(d.failAt[fails]) == k {
				fn(d.first+k, zero, taskFailure(f, d, d.first+k, fails))
				fails++
				continue
			}
			v, err := f.decodeOut(d.out[k*d.size : (k+1)*d.size])
			if err != nil {
				fn(d.first+k, zero, fmt.Errorf("pool: task %d: %w", d.first+k, err))
				continue
			}
			fn(d.first+k, v, nil)
		}
		return n
	}
	prev, fails := uint32(0), 0
	for k, e := range d.ends {
		i := d.first + k
		if e&failBit != 0 {
			fn(i, zero, taskFailure(f, d, i, fails))
			fails++
			continue
		}
		v, err := f.decodeOut(d.out[prev:e])
		prev = e
		if err != nil {
			fn(i, zero, fmt.Errorf("pool: task %d: %w", i, err))
			continue
		}
		fn(i, v, nil)
	}
	return len(d.ends)
}

// eachFailure calls fn with the index and error of each failed task of a
// delivery of fixed-size results (copyResults took the rest).
func eachFailure[In, Out any](f *Func[In, Out], d delivery, fn func(i int, err error)) {
	for k, at := range d.failAt {
		i := d.first + int(at)
		fn(i, taskFailure(f, d, i, k))
	}
}

// taskFailure is the error of task i, the k-th failure of d.
func taskFailure[In, Out any](f *Func[In, Out], d delivery, i, k int) error {
	switch {
	case d.native != nil:
		return d.native
	case k < len(d.blobs):
		t, err := decodeTaskError(d.blobs[k])
		if err != nil {
			return fmt.Errorf("pool: task %d (%s): %w", i, f.name, err)
		}
		t.Index = i
		return t
	}
	return fmt.Errorf("pool: task %d (%s): %w: its error is missing", i, f.name, ErrCorrupt)
}

// A MapError is a Map's failure: the tasks that failed, by index, each a
// *TaskError or a *WorkerDiedError, and, if the pool stopped during the
// call (Terminate, StopOnWorkerDeath), why.
type MapError struct {
	Op      string
	Func    string
	Tasks   int     // tasks in the call
	Failed  []error // by index
	Stopped error   // the tasks not listed in Failed that did not run
}

func (e *MapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool: %s(%s): ", e.Op, e.Func)
	if e.Stopped != nil {
		fmt.Fprintf(&b, "the pool stopped: %v", e.Stopped)
		if len(e.Failed) > 0 {
			b.WriteString("; and ")
		}
	}
	if len(e.Failed) > 0 {
		fmt.Fprintf(&b, "%d of %d tasks failed", len(e.Failed), e.Tasks)
		for i, err := range e.Failed[:min(len(e.Failed), 3)] {
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString("; ")
			}
			b.WriteString(err.Error())
		}
		if len(e.Failed) > 3 {
			b.WriteString("; ...")
		}
	}
	return b.String()
}

// Unwrap returns the tasks' errors and the pool's, for errors.Is and
// errors.As.
func (e *MapError) Unwrap() []error {
	if e.Stopped != nil {
		return append(e.Failed[:len(e.Failed):len(e.Failed)], e.Stopped)
	}
	return e.Failed
}

// sortByIndex orders task errors by their task's index.
func sortByIndex(errs []error) {
	idx := func(err error) int {
		var t *TaskError
		var w *WorkerDiedError
		switch {
		case errors.As(err, &t):
			return t.Index
		case errors.As(err, &w):
			return w.Index
		}
		return -1
	}
	slices.SortStableFunc(errs, func(a, b error) int { return idx(a) - idx(b) })
}

// An AsyncResult is the outcome of ApplyAsync or MapAsync, as Python's
// AsyncResult.
type AsyncResult[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func goAsync[T any](run func() (T, error)) *AsyncResult[T] {
	r := &AsyncResult[T]{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.v, r.err = run()
	}()
	return r
}

// Get waits for the outcome, or until ctx ends (Python's get(timeout):
// the task goes on, and a later Get may still have it).
func (r *AsyncResult[T]) Get(ctx context.Context) (T, error) {
	if err := r.Wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	return r.v, r.err
}

// Wait waits until the outcome is ready, or ctx ends (then ctx's error).
func (r *AsyncResult[T]) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pool: AsyncResult: %w", ctx.Err())
	}
}

// Ready reports whether the outcome is in.
func (r *AsyncResult[T]) Ready() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Successful reports whether the call succeeded; an error wrapping
// ErrNotReady (Python's ValueError) while it runs.
func (r *AsyncResult[T]) Successful() (bool, error) {
	if !r.Ready() {
		return false, fmt.Errorf("pool: AsyncResult.Successful: %w", ErrNotReady)
	}
	return r.err == nil, nil
}
