package pool

// The remote engine: a pool whose workers are elsewhere, reached through
// a remote.Transport (pool/cluster carries it over NATS JetStream). The
// caller's side is the local pool's (pool_call.go); this engine keeps the
// task table of the chunks sent and turns what the transport reports into
// deliveries, as the local engine does with its workers' messages.
//
// A chunk is sent once and then known by its seq until its last outcome
// arrives. The transport may report a chunk's outcomes more than once and
// in any order — a chunk redelivered after its worker died runs again
// from its first task — so the engine keeps, per chunk, got: the number
// of its leading tasks whose outcomes were delivered. A batch starting at
// or before got gives the tasks from got on (the rest are dropped: each
// task's outcome is delivered exactly once, the first to arrive); one
// starting past got waits in early until got reaches it.
//
// When the transport says a chunk was lost (delivered as often as
// allowed, and no worker finished it), its task got — the first without
// an outcome, which a worker on the last allowed delivery reports after
// each task, so the one it was running — fails with ErrWorkerDied, and
// the tasks after it are sent again as a new chunk. A chunk a worker
// refused (another build) fails from got on.
//
// The engine's mutex is held by whoever has news: the caller submitting
// or cancelling, the transport reporting. Nothing holding it waits:
// Transport.Send and Cancel only queue.

import (
	"errors"
	"fmt"
	"sync"

	"github.com/multiproc/multiproc/pool/internal/remote"
)

func init() {
	remote.Pool.Option = func(t remote.Transport) any {
		return Option(func(o *poolOptions) { o.remote = t })
	}
	remote.Pool.Fingerprint = registryFingerprint
	remote.Pool.NewRunner = newRemoteRunner
	remote.Pool.TaskError = func(pid int, fn, message string, sentinel error) []byte {
		return appendTaskError(nil, &TaskError{PID: pid, Func: fn, Message: message, Err: sentinel})
	}
}

// checkRemote refuses the options that do not apply to workers elsewhere:
// those are set where the workers run (cluster.Serve).
func (o *poolOptions) checkRemote() error {
	if o.remote == nil {
		return nil
	}
	what := ""
	switch {
	case o.init != nil:
		what = "Initializer"
	case o.maxTasks > 0:
		what = "MaxTasksPerChild"
	case o.memLimit > 0:
		what = "MemoryLimit"
	case o.onDeath == deathRetry:
		what = "RetryOnWorkerDeath (a remote task is delivered again after its worker dies: the transport's delivery limit says how often)"
	case o.onDeath == deathStop:
		what = "StopOnWorkerDeath"
	default:
		return nil
	}
	return fmt.Errorf("pool: New: %w: %s does not apply to a pool whose workers are elsewhere: set it where they run", ErrInvalidArgument, what)
}

// remoteEngine is a pool's task table for workers elsewhere.
type remoteEngine struct {
	p  *Pool
	t  remote.Transport
	mu sync.Mutex

	sent     map[uint64]*sentChunk // by seq, until their last outcome
	calls    map[uint64]*callState // calls with chunks sent
	seq      uint64
	stopping bool // Close or Terminate began: no new calls
	over     bool // the transport is closing; p.done closes after

	tasks, chunks, lost int // figures
}

// sentChunk is a chunk in the hands of the transport.
type sentChunk struct {
	*chunk
	early  []*remote.Results // batches past got, waiting for it
	worker string            // who last reported on it
	pid    int
}

// startRemote starts p's transport: New for a pool with workers elsewhere.
func startRemote(p *Pool, t remote.Transport) error {
	e := &remoteEngine{p: p, t: t, sent: map[uint64]*sentChunk{}, calls: map[uint64]*callState{}}
	p.eng = e
	n, err := t.Start(e)
	if err != nil {
		return fmt.Errorf("pool: New: %w", err)
	}
	if !p.opts.hasWorkers {
		p.n = max(n, 1)
	}
	return nil
}

func (e *remoteEngine) submitCall(chunks []*chunk) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping || e.over {
		return e.p.stopped()
	}
	cs := chunks[0].call
	for _, c := range chunks {
		if err := e.send(c); err != nil {
			if cs.live > 0 {
				e.t.Cancel(cs.id)
			}
			e.forget(cs)
			return err
		}
	}
	return nil
}

// send hands c to the transport under a fresh seq. A chunk past the
// transport's message limit (ErrTooLarge) goes as two halves, each sent
// the same way, so that a Chunksize — the pool's own or the caller's — is
// never a reason to fail: only a task whose argument alone is past the
// limit is refused.
func (e *remoteEngine) send(c *chunk) error {
	e.seq++
	c.seq = e.seq
	cs := c.call
	rc := &remote.Chunk{Call: cs.id, Seq: c.seq, Func: cs.fn, Recv: cs.recv, Args: c.args, Ends: c.ends,
		Size: uint32(c.size), OutSize: uint32(cs.outSize), Soft: cs.soft, Hard: cs.hard}
	if err := e.t.Send(rc); err != nil {
		if n := c.n(); n > 1 && errors.Is(err, ErrTooLarge) {
			if err := e.send(c.slice(0, n/2)); err != nil {
				return err
			}
			return e.send(c.slice(n/2, n))
		}
		return err
	}
	e.sent[c.seq] = &sentChunk{chunk: c}
	e.calls[cs.id] = cs
	cs.live++
	e.chunks++
	return nil
}

// forget drops every chunk of cs.
func (e *remoteEngine) forget(cs *callState) {
	for seq, c := range e.sent {
		if c.call == cs {
			delete(e.sent, seq)
		}
	}
	cs.live = 0
	delete(e.calls, cs.id)
}

// done counts one chunk of cs as finished.
func (e *remoteEngine) done(c *sentChunk) {
	delete(e.sent, c.seq)
	cs := c.call
	cs.live--
	if cs.live <= 0 {
		delete(e.calls, cs.id)
	}
}

func (e *remoteEngine) cancelCall(cs *callState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cs.cancelled {
		return
	}
	cs.cancelled = true
	cs.box.close()
	if cs.live > 0 && !e.over {
		e.t.Cancel(cs.id)
	}
	e.forget(cs)
	e.settle()
}

func (e *remoteEngine) stop(terminate bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.over {
		return
	}
	e.stopping = true
	if terminate {
		e.failAll(e.p.stopped())
	}
	e.settle()
}

// failAll fails every call in progress with err, and cancels its tasks.
func (e *remoteEngine) failAll(err error) {
	for _, cs := range e.calls {
		cs.box.put(delivery{kind: deliverStopped, native: err})
		if !e.over {
			e.t.Cancel(cs.id)
		}
		e.forget(cs)
	}
}

// settle ends the engine once it is stopping with no call in progress:
// the transport closes (which may wait for the network), then p.done.
func (e *remoteEngine) settle() {
	if !e.stopping || e.over || len(e.calls) > 0 {
		return
	}
	e.over = true
	e.p.closed.Store(true)
	go func() {
		e.t.Close()
		close(e.p.done)
	}()
}

func (e *remoteEngine) workerStats() []WorkerStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	// One line for all the workers: the transport does not say which
	// ran what.
	return []WorkerStats{{Slot: 0, Tasks: e.tasks, Chunks: e.chunks, Failures: e.lost}}
}

// Results is a batch of outcomes (remote.Sink).
func (e *remoteEngine) Results(r *remote.Results, worker string, pid int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.sent[r.Seq]
	if c == nil || c.call.cancelled {
		return // a chunk finished, or a call gone: a duplicate or late batch
	}
	if worker != "" {
		c.worker, c.pid = worker, pid
	}
	if r.From > c.got {
		if len(c.early) < maxEarly {
			c.early = append(c.early, r)
		}
		return
	}
	e.take(c, r)
	for progressed := true; progressed && e.sent[c.seq] != nil; {
		progressed = false
		for i, x := range c.early {
			if x.From <= c.got {
				c.early = append(c.early[:i], c.early[i+1:]...)
				e.take(c, x)
				progressed = true
				break
			}
		}
	}
	e.settle()
}

// maxEarly bounds the batches a chunk keeps waiting for the ones before
// them (a worker's batches arrive in order but for a resend).
const maxEarly = 64

// take delivers the outcomes of r from c.got on; r.From <= c.got.
func (e *remoteEngine) take(c *sentChunk, r *remote.Results) {
	n := r.Count()
	if r.From+n <= c.got {
		return // all delivered already
	}
	s, err := r.Slice(c.got-r.From, n)
	var k int
	ok := false
	if err == nil {
		// From counts from the chunk's first task, as got does.
		m := wireMsg{Kind: msgResults, Chunk: c.seq, From: s.From, Out: s.Out, Ends: s.Ends,
			Size: s.Size, FailAt: s.FailAt, Errs: s.Errs}
		if k, ok = wellFormed(&m, c.chunk); ok {
			c.got += k
			e.tasks += k
			c.call.box.put(delivery{first: c.first + m.From, out: m.Out, ends: m.Ends, size: int(m.Size), failAt: m.FailAt, blobs: m.Errs})
		}
	}
	if !ok {
		// Not what this chunk asked for: the worker is broken or not
		// ours. Its tasks without an outcome fail, rather than wait.
		why := fmt.Sprintf("worker %s sent results this pool did not ask for (chunk %d from task %d)", c.worker, c.seq, r.From)
		if err != nil {
			why += ": " + err.Error()
		}
		e.failRest(c, ErrCorrupt, why)
		return
	}
	if c.got == c.n() {
		e.done(c)
	}
}

// failRest fails c's tasks from c.got on with sentinel, and forgets c.
func (e *remoteEngine) failRest(c *sentChunk, sentinel error, why string) {
	for i := c.got; i < c.n(); i++ {
		task := c.first + i
		c.call.box.put(failure(task, &TaskError{Index: task, PID: c.pid, Func: c.call.fn, Message: why, Err: sentinel}))
	}
	c.got = c.n()
	e.done(c)
}

// Started says who runs c's last allowed delivery (remote.Sink).
func (e *remoteEngine) Started(seq uint64, worker string, pid int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.sent[seq]; c != nil {
		c.worker, c.pid = worker, pid
	}
}

// Lost fails the first task of chunk seq without an outcome, and sends
// the rest again (remote.Sink).
func (e *remoteEngine) Lost(seq uint64, deliveries int, why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.sent[seq]
	if c == nil || c.call.cancelled {
		return
	}
	e.lost++
	task := c.first + c.got
	status := why
	if c.worker != "" {
		status = fmt.Sprintf("on %s: %s", c.worker, status)
	}
	c.call.box.put(failure(task, &WorkerDiedError{Index: task, PID: c.pid, Status: status}))
	rest := c.got + 1
	e.done(c)
	if rest < c.n() && !e.stopping {
		again := c.slice(rest, c.n())
		if err := e.send(again); err != nil {
			for i := range again.n() {
				t := again.first + i
				again.call.box.put(failure(t, fmt.Errorf("pool: task %d: sending it again: %w", t, err)))
			}
		}
	}
	e.settle()
}

// Refused fails chunk seq's tasks without an outcome (remote.Sink).
func (e *remoteEngine) Refused(seq uint64, err error, worker string, pid int, why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.sent[seq]
	if c == nil || c.call.cancelled {
		return
	}
	c.worker, c.pid = worker, pid
	e.failRest(c, err, why)
	e.settle()
}

// Stopped fails the pool (remote.Sink).
func (e *remoteEngine) Stopped(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.over {
		return
	}
	e.p.setStopped(err)
	e.p.closed.Store(true)
	e.stopping = true
	e.failAll(err)
	e.settle()
}

// The two packages mark a failed task's end with the same bit.
var (
	_ [failBit - remote.FailBit]struct{}
	_ [remote.FailBit - failBit]struct{}
)
