package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/multiproc/multiproc/internal/reexec"
)

// The pool's engine: the task and worker tables below, held by one mutex
// (mu). Nothing holding it ever waits: not for a caller, not for a worker
// (a message that does not fit a worker's pipe at once goes to that
// worker's writer goroutine). So whoever has news takes the mutex and acts
// on it — the caller submitting a call sends its first chunks to the
// workers itself, and a worker's reader goroutine delivers the results it
// reads to the call's mailbox — and a task's round trip passes no goroutine
// in the parent but the reader's. (A single owner goroutine, as the design
// first had it, put four goroutine hand-offs on that path: 128 µs per Apply
// on this VM, against 70 µs for Python.)
//
// A call (callState) is cut into chunks of consecutive tasks; the chunks
// wait in pending, then go to workers, at most maxAhead to one worker at
// a time (and only one each while fewer chunks wait than workers are
// free, so the last chunks of a call do not queue behind each other while
// a worker idles). A worker (workerSlot) is in one of these states:
//
//	starting  its process runs; it has not said msgReady
//	ready     it takes chunks
//	retiring  it said msgRetire, or was sent msgStop: no more chunks
//	gone      its process has exited and its pipe is drained; the slot
//	          starts a fresh process unless the pool is stopping
//
// A chunk is pending, then held by one worker (its chunks list, in the
// order sent, which is the order it runs them), until its last result
// arrives. When a worker is gone, its progress words say, for each chunk
// it held, which tasks had finished (those whose results did not arrive
// run again), which one was running (it failed with the worker, or runs
// again under RetryOnWorkerDeath, or stops the pool), and which it never
// reached (they go back to the front of pending).
//
// Results go from the loop to the call's mailbox; the caller decodes
// them, so the loop only moves bytes.

// maxAhead is how many chunks a worker holds at most: the one it runs and
// the next, so it never waits for the parent between chunks.
const maxAhead = 2

// startFailures is how many replacement processes in a row may die before
// saying msgReady before the pool stops (a crash at start, or an
// Initializer that fails in some workers only).
const startFailures = 3

// A chunk is consecutive tasks of one call.
//
// Its seq names it to the worker it is sent to: the worker's results say
// which chunk they answer by it (results), and its progress words say by
// it which chunk it was running (gone, checkHard). Both read it against
// the worker's held chunks, so the engine keeps this invariant:
//
//	a chunk gets its seq when it is sent (send), fresh from the pool-wide
//	counter, which starts at 1; so no two chunks a worker process is sent
//	share a seq, and none has seq 0, the chunk word of a process that has
//	begun no task.
//
// The chunks gone puts back after a death (c.slice, for results that died
// unsent, the tasks it never reached, a retried task) are new chunks that
// are numbered when sent again, as every other. Numbering at submit
// instead, as the engine first did, left them all seq 0: a replacement
// that ran two of them in a row kept its chunk word unchanged at the
// second (progress.begin resets started and finished only when the word
// changes), so a death during the second's first task read the first's
// count of tasks finished — the running task ran again without
// RetryOnWorkerDeath, tasks after it ran twice, and the results of the
// second were matched to the first.
type chunk struct {
	call  *callState
	seq   uint64   // given at each send: see above
	first int      // the call's index of its first task
	args  []byte   // the tasks' arguments, one after another
	ends  []uint32 // where each ends in args, unless size is set
	size  int      // the size of every argument (codec.Layout), or 0
	got   int      // outcomes delivered
	tries int      // deaths its first task went through (RetryOnWorkerDeath)
}

func (c *chunk) n() int {
	if c.size > 0 {
		return len(c.args) / c.size
	}
	return len(c.ends)
}

// slice returns the chunk of tasks [from, to) of c.
func (c *chunk) slice(from, to int) *chunk {
	if c.size > 0 {
		return &chunk{call: c.call, first: c.first + from, args: c.args[from*c.size : to*c.size], size: c.size}
	}
	start := 0
	if from > 0 {
		start = int(c.ends[from-1])
	}
	ends := make([]uint32, to-from)
	for i := range ends {
		ends[i] = c.ends[from+i] - uint32(start)
	}
	return &chunk{call: c.call, first: c.first + from, args: c.args[start:c.ends[to-1]], ends: ends}
}

// A callState is one call on the pool, shared by the caller and the loop.
type callState struct {
	id        uint64
	fn        string
	recv      []byte
	soft      time.Duration
	hard      time.Duration
	box       mailbox[delivery]
	outSize   int  // the size of every result (codec.Layout), or 0
	cancelled bool // the engine's: the caller went away
	live      int  // the engine's: its chunks pending or held
}

// A delivery is a run of outcomes of consecutive tasks of a call,
// starting at task first: results one after another in out, with ends —
// a failed task's end has failBit and its error is the next of blobs (a
// worker's *TaskError) or, for a failure the parent saw (a dead worker, a
// stopped pool), native — or, with size set, size bytes each, failAt
// listing the failed ones as in msgResults.
type delivery struct {
	kind   deliveryKind
	first  int
	out    []byte
	ends   []uint32
	size   int
	failAt []uint32
	blobs  [][]byte
	native error

	total    int // deliverInputEnd: the tasks an Imap's input made
	panicked any // deliverPanic: what the input's iterator panicked with
}

type deliveryKind uint8

const (
	deliverOutcomes deliveryKind = iota
	deliverStopped               // the pool stopped: native says why
	deliverInputEnd              // an Imap's input is exhausted
	deliverPanic                 // an Imap's input panicked
)

func failure(first int, err error) delivery {
	return delivery{first: first, ends: []uint32{failBit}, native: err}
}

// workerSlot is one of the pool's places for a worker process.
type workerSlot struct {
	slot   int
	number int // the process's place among those the pool started
	state  workerState
	cmd    *reexec.Cmd
	conn   *Conn[wireMsg] // end 0
	far    *Conn[wireMsg] // end 1, until the worker has taken it
	prog   *progress
	out    *mailbox[wireMsg] // to its writer goroutine
	pid    int
	chunks []*chunk // held, in the order sent
	sent   int      // chunks sent to this process
	killed string   // why the parent killed it ("" if it did not)

	// figures
	tasks, nchunks, restarts, failures int
	busy, idle                         time.Duration
	since                              time.Time // of the current busy or idle stretch
}

type workerState int

const (
	starting workerState = iota
	ready
	retiring
	gone
)

// localEngine is the pool's tables: the engine of worker processes on this machine.
type localEngine struct {
	p        *Pool
	mu       sync.Mutex
	slots    []*workerSlot
	pending  []*chunk
	calls    map[uint64]*callState // calls with chunks pending or held
	seq      uint64                // the last chunk seq given (send)
	started  int                   // processes started, for their numbers
	up       bool                  // New has returned
	stopping bool
	graceful bool // Close: run what was submitted first
	over     bool // p.done is closed
	badStart int  // replacements in a row that died before ready
}

// run starts the workers; New waits for p.startup.
func (l *localEngine) run() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.p.n {
		l.slots = append(l.slots, &workerSlot{slot: i, state: gone})
	}
	for _, w := range l.slots {
		if err := l.start(w); err != nil {
			l.fail(err)
			break
		}
	}
	if l.p.opts.hard > 0 {
		go l.backstop()
	}
	l.settle()
}

// settle is what every holder of mu does last: hand out pending chunks,
// and end the pool if it is stopping and done.
func (l *localEngine) settle() {
	if l.over {
		return
	}
	if l.finished() {
		l.over = true
		close(l.p.done)
		return
	}
	l.dispatch()
}

// backstop looks for tasks past their hard timeout until the pool ends.
func (l *localEngine) backstop() {
	t := time.NewTicker(backstopTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			l.checkHard()
			l.mu.Unlock()
		case <-l.p.done:
			return
		}
	}
}

// start starts a fresh process in slot w.
func (l *localEngine) start(w *workerSlot) error {
	prog, err := newProgress()
	if err != nil {
		return err
	}
	near, far, err := Pipe[wireMsg](true, Capacity(workerPipeCapacity))
	if err != nil {
		prog.close()
		return fmt.Errorf("pool: a worker's pipe: %w", err)
	}
	l.started++
	args := workerArgs{pipe: far.Name(), number: l.started, maxTasks: l.p.opts.maxTasks, memLimit: l.p.opts.memLimit}
	cmd := newChild(roleWorker, true, args.strings()...)
	cmd.AddFile("progress", prog.file)
	if err := cmd.Start(); err != nil {
		near.Close()
		far.Close()
		prog.close()
		return fmt.Errorf("pool: starting a worker: %w", err)
	}
	*w = workerSlot{slot: w.slot, number: l.started, state: starting, cmd: cmd, conn: near, far: far, prog: prog,
		out: newMailbox[wireMsg](), pid: cmd.Pid(), tasks: w.tasks, nchunks: w.nchunks, restarts: w.restarts,
		failures: w.failures, busy: w.busy, idle: w.idle, since: time.Now()}
	init := wireMsg{Kind: msgInit}
	if ic := l.p.opts.init; ic != nil {
		init.Func, init.Recv, init.Args = ic.fn, ic.recv, ic.arg
	}
	w.post(init)
	go l.readWorker(w, cmd, near)
	go writeWorker(w.out, cmd, near)
	return nil
}

// workerPipeCapacity is the bytes of each direction of a worker's pipe:
// a chunk or a batch of results up to a quarter of it travels in the ring,
// a larger one in a side segment.
const workerPipeCapacity = 1 << 20

// backstopTick is how often the parent looks for a task past its hard
// timeout whose worker did not end itself, and hardGrace how long past
// the timeout it lets the worker try.
const (
	backstopTick = 100 * time.Millisecond
	hardGrace    = time.Second
)

// readWorker acts on a worker's messages until the worker is gone: its
// process exited and everything it sent has been read.
func (l *localEngine) readWorker(w *workerSlot, cmd *reexec.Cmd, conn *Conn[wireMsg]) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-cmd.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	handle := func(m *wireMsg) {
		l.mu.Lock()
		l.event(w, m)
		l.settle()
		l.mu.Unlock()
		// The caller those results woke is next on this P's queue, but
		// this goroutine would hold the P spinning in Recv for the next
		// message; another P steals the caller only after a pause and the
		// wake-up of an idle thread (tens of µs on a VM). Yield the P, so
		// the caller runs now.
		runtime.Gosched()
	}
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			break
		}
		handle(&m)
	}
	cancel()
	<-cmd.Done()
	// Whatever it sent before it died is still in the ring.
	for {
		if ok, _ := conn.Poll(ctx); !ok {
			break
		}
		m, err := conn.Recv(context.Background())
		if err != nil {
			break
		}
		handle(&m)
	}
	l.mu.Lock()
	l.gone(w)
	l.settle()
	l.mu.Unlock()
}

// post sends m to w's process: at once if its pipe has room and nothing
// waits before it, else through w's writer goroutine, so that the holder
// of mu never waits.
func (w *workerSlot) post(m wireMsg) {
	if w.out.empty() && w.conn.Send(doneCtx, m) == nil {
		return
	}
	// Args may be a view of a Map's items; the writer sends it later,
	// perhaps after the call has returned.
	m.Args = slices.Clone(m.Args)
	w.out.put(m)
}

// doneCtx is a context that has ended: a Send with it fails rather than
// wait for room.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// writeWorker sends the messages that did not fit w's pipe at once, in
// order, until the worker is gone.
func writeWorker(box *mailbox[wireMsg], cmd *reexec.Cmd, conn *Conn[wireMsg]) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-cmd.Done()
		cancel()
	}()
	for {
		select {
		case <-box.ready:
		case <-ctx.Done():
			return
		}
		for {
			m, ok := box.peek()
			if !ok {
				break
			}
			if conn.Send(ctx, m) != nil {
				return // the worker is gone; its reader reports it
			}
			box.pop()
		}
	}
}

// event acts on a worker's message.
func (l *localEngine) event(w *workerSlot, m *wireMsg) {
	switch m.Kind {
	case msgReady:
		if w.state != starting {
			return
		}
		if w.far != nil {
			w.far.Close() // the worker holds end 1 now
			w.far = nil
		}
		if len(m.Errs) > 0 {
			err := errors.New("the Initializer failed")
			if t, derr := decodeTaskError(m.Errs[0]); derr == nil {
				err = fmt.Errorf("pool: Initializer in worker pid %d: %w", w.pid, t)
			}
			w.killed = "its Initializer failed"
			l.fail(err)
			return
		}
		w.state = ready
		l.badStart = 0
		if !l.up && l.allReady() {
			l.up = true
			l.p.startup <- nil
		}
	case msgResults:
		l.results(w, m)
	case msgRetire:
		if w.state == ready {
			w.state = retiring
		}
	}
}

func (l *localEngine) allReady() bool {
	for _, w := range l.slots {
		if w.state != ready {
			return false
		}
	}
	return true
}

// results delivers a batch of results to its call.
func (l *localEngine) results(w *workerSlot, m *wireMsg) {
	i := slices.IndexFunc(w.chunks, func(c *chunk) bool { return c.seq == m.Chunk })
	n, ok := 0, false
	if i >= 0 {
		n, ok = wellFormed(m, w.chunks[i])
	}
	if !ok {
		// Not what this worker was given: it is not a worker of ours, or
		// it is broken. It is killed; what it held is accounted as for
		// any death.
		w.killed = fmt.Sprintf("it sent results the pool did not ask for (chunk %d from %d)", m.Chunk, m.From)
		go w.cmd.Kill()
		return
	}
	c := w.chunks[i]
	c.got += n
	w.tasks += n
	if !c.call.cancelled {
		c.call.box.put(delivery{first: c.first + m.From, out: m.Out, ends: m.Ends, size: int(m.Size), failAt: m.FailAt, blobs: m.Errs})
	}
	if c.got == c.n() {
		w.chunks = slices.Delete(w.chunks, i, i+1)
		w.nchunks++
		l.drop(c.call, 1)
		if len(w.chunks) == 0 {
			w.busy += time.Since(w.since)
			w.since = time.Now()
		}
	}
}

// wellFormed checks a results message against the chunk it answers and
// its own bytes (a worker's bytes are never trusted), and says how many
// outcomes it holds. It accepts only what pool_wire.go's msgResults says,
// since the caller decodes what it accepts without looking again:
//
//   - From is the chunk's outcomes delivered so far, and From plus the
//     message's outcomes is no more than the chunk's tasks;
//   - with the call's OutSize: Size equals it, no Ends, Out a whole number
//     of results, FailAt strictly increasing below that number, and each
//     failed task's result all zero (copyResults copies Out as it is, so
//     a failed task's slot in a Map is the zero Out);
//   - without: Size 0, no FailAt, Ends not decreasing, the last at the end
//     of Out, and a failed task's end (failBit) where the one before
//     ended, its slot empty (eachOutcome does not move past a failed slot,
//     so bytes left in one would be read as part of the next result);
//   - one error in Errs per failed task.
func wellFormed(m *wireMsg, c *chunk) (n int, ok bool) {
	if m.From != c.got {
		return 0, false
	}
	fails := 0
	if m.Size > 0 {
		size := int(m.Size)
		if size != c.call.outSize || len(m.Ends) > 0 || len(m.Out)%size != 0 {
			return 0, false
		}
		n = len(m.Out) / size
		for k, at := range m.FailAt {
			if int(at) >= n || k > 0 && at <= m.FailAt[k-1] {
				return 0, false
			}
			for _, b := range m.Out[int(at)*size : (int(at)+1)*size] {
				if b != 0 {
					return 0, false
				}
			}
		}
		fails = len(m.FailAt)
	} else {
		if c.call.outSize != 0 || len(m.FailAt) > 0 {
			return 0, false
		}
		prev := uint32(0)
		for _, e := range m.Ends {
			if e&failBit != 0 {
				fails++
				if e&^failBit != prev {
					return 0, false
				}
				continue
			}
			if e < prev || e > uint32(len(m.Out)) {
				return 0, false
			}
			prev = e
		}
		if prev != uint32(len(m.Out)) {
			return 0, false
		}
		n = len(m.Ends)
	}
	return n, fails == len(m.Errs) && m.From+n <= c.n()
}

// drop counts n chunks of cs as done, and forgets the call once it has
// nothing pending or held.
func (l *localEngine) drop(cs *callState, n int) {
	cs.live -= n
	if cs.live <= 0 {
		delete(l.calls, cs.id)
	}
}

// submit queues a call's chunks.
func (l *localEngine) submit(chunks []*chunk) error {
	if l.stopping {
		return l.p.stopped()
	}
	cs := chunks[0].call
	l.calls[cs.id] = cs
	cs.live += len(chunks)
	l.pending = append(l.pending, chunks...)
	return nil
}

// cancel drops a call's pending chunks and tells the workers holding its
// others to cancel it.
func (l *localEngine) cancel(cs *callState) {
	if cs.cancelled {
		return
	}
	cs.cancelled = true
	cs.box.close()
	before := len(l.pending)
	l.pending = slices.DeleteFunc(l.pending, func(c *chunk) bool { return c.call == cs })
	l.drop(cs, before-len(l.pending))
	for _, w := range l.slots {
		if w.state == gone {
			continue
		}
		for _, c := range w.chunks {
			if c.call == cs {
				w.prog.cancel(cs.id)
				break
			}
		}
	}
}

// dispatch hands pending chunks to ready workers.
func (l *localEngine) dispatch() {
	for len(l.pending) > 0 {
		free := 0
		for _, w := range l.slots {
			if l.takes(w) && len(w.chunks) == 0 {
				free++
			}
		}
		limit := maxAhead
		if len(l.pending) <= free {
			limit = 1
		}
		var best *workerSlot
		for _, w := range l.slots {
			if l.takes(w) && len(w.chunks) < limit && (best == nil || len(w.chunks) < len(best.chunks)) {
				best = w
			}
		}
		if best == nil {
			return
		}
		c := l.pending[0]
		l.pending = l.pending[1:]
		l.send(best, c)
	}
}

// takes reports whether w may be given another chunk.
func (l *localEngine) takes(w *workerSlot) bool {
	if w.state != ready || (l.stopping && !l.graceful) {
		return false
	}
	return l.p.opts.maxTasks == 0 || w.sent < l.p.opts.maxTasks
}

func (l *localEngine) send(w *workerSlot, c *chunk) {
	if len(w.chunks) == 0 {
		w.idle += time.Since(w.since)
		w.since = time.Now()
	}
	l.seq++
	c.seq = l.seq // fresh at every send (see chunk)
	w.chunks = append(w.chunks, c)
	w.sent++
	cs := c.call
	w.post(wireMsg{Kind: msgChunk, Call: cs.id, Chunk: c.seq, Func: cs.fn, Recv: cs.recv,
		Args: c.args, Ends: c.ends, Size: uint32(c.size), OutSize: uint32(cs.outSize), Soft: cs.soft, Hard: cs.hard})
}

// gone accounts for a worker whose process has exited, and replaces it.
func (l *localEngine) gone(w *workerSlot) {
	ps := w.cmd.ProcessState()
	code, _ := reexec.ExitCode(ps)
	why := reexec.Status(ps)
	if w.killed != "" {
		why += ": " + w.killed
	}
	wasStarting := w.state == starting
	w.state = gone
	w.conn.Close()
	if w.far != nil {
		w.far.Close()
		w.far = nil
	}
	if len(w.chunks) > 0 {
		w.busy += time.Since(w.since)
	} else {
		w.idle += time.Since(w.since)
	}
	if code != 0 || w.killed != "" { // not retired, not stopped
		w.failures++
	}

	// What each chunk it held had come to (see the loop's comment).
	seq, started, finished := w.prog.snapshot()
	w.prog.close()
	held := w.chunks
	w.chunks = nil
	at := slices.IndexFunc(held, func(c *chunk) bool { return c.seq == seq })
	var back []*chunk // to run again, in order
	for k, c := range held {
		s, f := 0, 0 // tasks of c started and finished
		switch {
		case at >= 0 && k < at:
			s, f = c.n(), c.n()
		case k == at:
			s, f = min(started, c.n()), min(finished, c.n())
		}
		if c.call.cancelled {
			continue
		}
		if c.got < f { // finished, but their results died with the worker
			back = append(back, c.slice(c.got, f))
		}
		if s > f { // task f was running
			l.lost(c, f, &back, w, code, why)
		}
		if s < c.n() { // never reached
			rest := c.slice(s, c.n())
			if s == 0 {
				rest.tries = c.tries
			}
			back = append(back, rest)
		}
	}
	for _, c := range back {
		c.call.live++
	}
	for _, c := range held {
		l.drop(c.call, 1)
	}
	l.pending = append(back, l.pending...)

	if wasStarting && !l.stopping {
		l.badStart++
		if !l.up {
			l.fail(fmt.Errorf("pool: New: worker pid %d died before it was ready (%s)", w.pid, why))
			return
		}
		if l.badStart >= startFailures {
			l.fail(fmt.Errorf("pool: stopped: %w: %d workers in a row died at start; the last, pid %d: %s", ErrWorkerDied, l.badStart, w.pid, why))
			return
		}
	}
	if l.stopping && !(l.graceful && l.hasWork()) {
		return
	}
	w.restarts++
	if err := l.start(w); err != nil {
		l.fail(fmt.Errorf("pool: stopped: replacing worker pid %d: %w", w.pid, err))
	}
}

// hasWork reports whether chunks are pending or held.
func (l *localEngine) hasWork() bool {
	if len(l.pending) > 0 {
		return true
	}
	for _, w := range l.slots {
		if len(w.chunks) > 0 {
			return true
		}
	}
	return false
}

// lost handles task i of c, which was running when w died.
func (l *localEngine) lost(c *chunk, i int, back *[]*chunk, w *workerSlot, code int, why string) {
	if l.stopping && !l.graceful {
		return // the calls have failed already
	}
	task := c.first + i
	if code == exitHardTimeout || w.killed == killedHard {
		c.call.box.put(failure(task, &TaskError{Index: task, PID: w.pid, Func: c.call.fn, Err: ErrTimeout,
			Message: fmt.Sprintf("it ran past its hard timeout (%v), so its worker was killed and replaced", c.call.hard)}))
		return
	}
	wde := &WorkerDiedError{Index: task, PID: w.pid, Status: why}
	if ps := w.cmd.ProcessState(); ps != nil {
		wde.Signal = int(reexec.Signal(ps))
	}
	tries := 0
	if i == 0 {
		tries = c.tries
	}
	switch l.p.opts.onDeath {
	case deathRetry:
		if tries < l.p.opts.retries {
			one := c.slice(i, i+1)
			one.tries = tries + 1
			*back = append(*back, one)
			return
		}
	case deathStop:
		c.call.box.put(failure(task, wde))
		l.fail(fmt.Errorf("pool: stopped (StopOnWorkerDeath): %w", wde))
		return
	}
	c.call.box.put(failure(task, wde))
}

// killedHard is the reason the backstop gives for a worker it killed.
const killedHard = "a task passed its hard timeout"

// checkHard kills a worker whose task has run past its hard timeout and
// hardGrace, which its own timer should have ended.
func (l *localEngine) checkHard() {
	for _, w := range l.slots {
		if w.state == gone || w.killed != "" || len(w.chunks) == 0 {
			continue
		}
		seq, _, d, ok := w.prog.running()
		if !ok {
			continue
		}
		for _, c := range w.chunks {
			if c.seq == seq && c.call.hard > 0 && time.Duration(d) > c.call.hard+hardGrace {
				w.killed = killedHard
				go w.cmd.Kill()
			}
		}
	}
}

// fail stops the pool because of err: every call in progress and every
// later one fails with it.
func (l *localEngine) fail(err error) {
	l.p.setStopped(err)
	l.p.closed.Store(true)
	l.stopNow()
}

// shut begins Close (graceful) or Terminate.
func (l *localEngine) shut(terminate bool) {
	if terminate {
		l.stopNow()
		return
	}
	if !l.stopping {
		l.stopping, l.graceful = true, true
	}
}

// stopNow kills every worker; calls in progress fail.
func (l *localEngine) stopNow() {
	l.stopping, l.graceful = true, false
	for _, cs := range l.calls {
		cs.box.put(delivery{kind: deliverStopped, native: l.p.stopped()})
	}
	l.pending = nil
	for _, w := range l.slots {
		if w.state != gone && w.cmd != nil {
			if w.killed == "" {
				w.killed = "the pool was stopped"
			}
			go w.cmd.Kill()
		}
	}
}

// finished reports whether the loop may end: the pool is stopping, a
// graceful stop has run everything (then it tells the workers to stop),
// and every worker is gone.
func (l *localEngine) finished() bool {
	if !l.stopping {
		return false
	}
	if l.graceful {
		if l.hasWork() {
			return false
		}
		for _, w := range l.slots {
			if w.state == ready || w.state == starting {
				w.state = retiring
				w.post(wireMsg{Kind: msgStop})
				cmd := w.cmd
				time.AfterFunc(reexec.Grace, func() { cmd.Kill() })
			}
		}
	}
	for _, w := range l.slots {
		if w.state != gone {
			return false
		}
	}
	l.p.closed.Store(true)
	if !l.up {
		l.p.startup <- l.p.stopped()
	}
	return true
}

// stats returns the worker slots' figures.
func (l *localEngine) stats() []WorkerStats {
	out := make([]WorkerStats, len(l.slots))
	for i, w := range l.slots {
		busy, idle := w.busy, w.idle
		if w.state != gone {
			if len(w.chunks) > 0 {
				busy += time.Since(w.since)
			} else {
				idle += time.Since(w.since)
			}
		}
		pid := 0
		if w.state != gone {
			pid = w.pid
		}
		out[i] = WorkerStats{Slot: i, PID: pid, Tasks: w.tasks, Chunks: w.nchunks, Busy: busy, Idle: idle,
			Restarts: w.restarts, Failures: w.failures}
	}
	return out
}

// mailbox is an unbounded queue with one reader: put never blocks, so the
// holder of the engine's mutex never waits for a caller or a writer.
type mailbox[T any] struct {
	mu     sync.Mutex
	items  []T
	ready  chan struct{} // has a token while items is not empty
	closed bool
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{ready: make(chan struct{}, 1)} }

func (b *mailbox[T]) init() { b.ready = make(chan struct{}, 1) }

// put adds x, unless the mailbox is closed.
func (b *mailbox[T]) put(x T) {
	b.mu.Lock()
	if !b.closed {
		b.items = append(b.items, x)
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// empty reports whether nothing is queued.
func (b *mailbox[T]) empty() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items) == 0
}

// peek returns the oldest item, leaving it queued.
func (b *mailbox[T]) peek() (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.items) == 0 {
		var zero T
		return zero, false
	}
	return b.items[0], true
}

// pop drops the oldest item.
func (b *mailbox[T]) pop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var zero T
	b.items[0] = zero
	b.items = b.items[1:]
}

// take appends everything queued to dst.
func (b *mailbox[T]) take(dst []T) []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	dst = append(dst, b.items...)
	clear(b.items)
	b.items = b.items[:0]
	return dst
}

// close drops what is queued and what comes later.
func (b *mailbox[T]) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.items = nil
}
