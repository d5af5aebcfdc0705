package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/multiproc/multiproc/internal/reexec"
)

// The worker: a child started in role pool.worker with its pipe end's
// name as its argument and its progress page as the inherited file
// "progress".
//
// The runner, the worker's main goroutine, takes the parent's messages off
// the pipe and runs each chunk's tasks in order as it gets it, with no
// hand-off between goroutines (the parent sends a worker at most two
// chunks ahead, so the next waits in the pipe). It writes the progress
// words around each task, and sends results back in batches: at the
// chunk's end, every resultBatch tasks, every resultBytes bytes, and when
// flushEvery has passed since the last send — so a long chunk of slow
// tasks reports as it goes, and a Map of trivial ones sends a few large
// messages. Cancellations come through the progress page, not the pipe,
// so that they overtake the chunks queued in it: the watcher goroutine
// sleeps on the page's cancel ring and cancels the running task's ctx
// when its call is cancelled; the runner skips the tasks of cancelled
// calls.
//
// A worker exits on msgStop, after the chunk that reached
// MaxTasksPerChild or the memory ceiling (sending msgRetire first), when
// its pipe fails (the parent is gone: there is nobody to run for), or, for
// a task past its hard timeout, at once with status exitHardTimeout.

const roleWorker = "worker"

const (
	// exitHardTimeout is a worker's exit status when a task passed its
	// hard timeout; the parent fails that task with ErrTimeout.
	exitHardTimeout = 86
	// exitParentGone is its status when its pipe to the parent failed.
	exitParentGone = 87

	resultBatch = 4096
	resultBytes = 256 << 10
	flushEvery  = 2 * time.Millisecond
	// cancelMemory is how many cancelled calls a worker remembers: only
	// calls with chunks still queued in it matter, a handful.
	cancelMemory = 256
)

func init() { registerRole(roleWorker, runWorker) }

// workerHook, if set, runs as a worker starts, and what it returns as the
// worker ends: the test binary's profiler (profile_test.go).
var workerHook func() func()

// workerArgs are what a worker learns from its command line.
type workerArgs struct {
	pipe     string // its pipe end, NAME:1
	number   int    // its place among the workers the pool started, from 1
	maxTasks int    // chunks before it retires (0: none)
	memLimit int64  // resident bytes after which it retires (0: none)
}

func (a workerArgs) strings() []string {
	return []string{a.pipe, strconv.Itoa(a.number), strconv.Itoa(a.maxTasks), strconv.FormatInt(a.memLimit, 10)}
}

func parseWorkerArgs(args []string) (workerArgs, error) {
	if len(args) != 4 {
		return workerArgs{}, fmt.Errorf("want 4 arguments, got %d", len(args))
	}
	number, err0 := strconv.Atoi(args[1])
	maxTasks, err1 := strconv.Atoi(args[2])
	memLimit, err2 := strconv.ParseInt(args[3], 10, 64)
	if err := errors.Join(err0, err1, err2); err != nil {
		return workerArgs{}, err
	}
	return workerArgs{pipe: args[0], number: number, maxTasks: maxTasks, memLimit: memLimit}, nil
}

// workerProc is the state of the worker process.
type workerProc struct {
	args workerArgs
	conn *Conn[wireMsg]
	prog *progress

	// The runner's alone:
	cancelled map[uint64]bool // calls cancelled, as far as seen
	order     []uint64        // the same, oldest first
	seen      uint32          // the cancel ring's seq last read

	// flushEach sends results after every task (a remote worker's last
	// allowed delivery of a chunk: pool_remote_worker.go).
	flushEach bool

	// Shared with the watcher:
	running  atomic.Uint64                      // the call whose chunk the runner is in
	stopTask atomic.Pointer[context.CancelFunc] // cancels that chunk's ctx
}

func runWorker(argv []string) int {
	args, err := parseWorkerArgs(argv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pool: a worker started with bad arguments %q: %v\n", argv, err)
		return 2
	}
	f := reexec.File("progress")
	if f == nil {
		fmt.Fprintln(os.Stderr, "pool: a worker started without its progress page")
		return 2
	}
	prog, err := mapProgress(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	conn, err := OpenConn[wireMsg](args.pipe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pool: a worker cannot open its pipe: %v\n", err)
		return 2
	}
	defer conn.Close()
	w := &workerProc{args: args, conn: conn, prog: prog, cancelled: map[uint64]bool{}}
	// Python names its workers ForkPoolWorker-N, N counting the workers
	// the pool started.
	setCurrentProcess("PoolWorker-"+strconv.Itoa(args.number), []int{args.number},
		ProcessInfo{Name: "MainProcess", PID: os.Getppid()})
	if workerHook != nil {
		defer workerHook()()
	}
	w.seen = prog.cancelled(0, func(uint64) {})
	if code, ok := w.initialize(); !ok {
		return code
	}
	go w.watch(w.seen)
	return w.run()
}

// initialize receives msgInit, runs the Initializer and answers msgReady.
func (w *workerProc) initialize() (int, bool) {
	m, err := w.conn.Recv(context.Background())
	if err != nil || m.Kind != msgInit {
		return exitParentGone, false
	}
	ready := wireMsg{Kind: msgReady, PID: os.Getpid()}
	var terr *TaskError
	if m.Func != "" {
		if e, t := lookupFunc(m.Func); t != nil {
			terr = t
		} else if run, t := e.bind(m.Recv); t != nil {
			terr = t
		} else {
			_, terr = run(context.Background(), nil, m.Args)
		}
	}
	if terr != nil {
		ready.Errs = [][]byte{appendTaskError(nil, terr)}
	}
	if err := w.conn.Send(context.Background(), ready); err != nil {
		return exitParentGone, false
	}
	if terr != nil {
		return 1, false
	}
	return 0, true
}

// watch cancels the running chunk's ctx when its call is cancelled.
func (w *workerProc) watch(seen uint32) {
	for {
		w.prog.awaitCancel(seen)
		seen = w.prog.cancelled(seen, func(id uint64) {
			if id == w.running.Load() {
				if stop := w.stopTask.Load(); stop != nil {
					(*stop)()
				}
			}
		})
	}
}

// isCancelled reports whether call was cancelled, reading the cancel
// ring when it has moved.
func (w *workerProc) isCancelled(call uint64) bool {
	if w.prog.cancels.seq.Load() != w.seen {
		w.seen = w.prog.cancelled(w.seen, func(id uint64) {
			if !w.cancelled[id] {
				w.cancelled[id] = true
				w.order = append(w.order, id)
			}
		})
		for len(w.order) > cancelMemory {
			delete(w.cancelled, w.order[0])
			w.order = w.order[1:]
		}
	}
	return w.cancelled[call]
}

// run serves the parent's messages until it says stop, the worker
// retires, or the pipe fails.
func (w *workerProc) run() int {
	chunks := 0
	for {
		m, err := w.conn.Recv(context.Background())
		if err != nil {
			return exitParentGone // the parent closed its end or died
		}
		switch m.Kind {
		case msgStop:
			return 0
		case msgChunk:
		default:
			continue
		}
		if err := w.runChunk(&m, w.sendToParent); err != nil {
			return exitParentGone
		}
		chunks++
		reason := ""
		if w.args.maxTasks > 0 && chunks >= w.args.maxTasks {
			reason = fmt.Sprintf("it ran MaxTasksPerChild (%d) chunks", w.args.maxTasks)
		} else if w.args.memLimit > 0 {
			if rss := residentBytes(); rss > w.args.memLimit {
				reason = fmt.Sprintf("its resident memory, %d bytes, passed MemoryLimit (%d)", rss, w.args.memLimit)
			}
		}
		if reason != "" {
			w.conn.Send(context.Background(), wireMsg{Kind: msgRetire, Reason: reason})
			return 0
		}
	}
}

// sendToParent sends a batch of results down the worker's pipe.
func (w *workerProc) sendToParent(res *wireMsg) error {
	return w.conn.Send(context.Background(), *res)
}

// runChunk runs the tasks of one chunk and sends their results in
// batches to send, which must not keep res past its return (its slices
// are reused).
func (w *workerProc) runChunk(m *wireMsg, send func(res *wireMsg) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.running.Store(m.Call)
	w.stopTask.Store(&cancel)
	defer func() {
		w.stopTask.Store(nil)
		w.running.Store(0)
	}()
	// The call's cancellation is looked up again only when the cancel
	// ring moves: a map lookup per task would cost a trivial task more
	// than the task.
	skip := w.isCancelled(m.Call)
	if skip {
		cancel() // a cancel that came before the chunk
	}

	var run runFunc
	e, terr := lookupFunc(m.Func)
	if terr == nil {
		run, terr = e.bind(m.Recv)
	}
	// The tasks' arguments: by Ends, or Size bytes each.
	size, outSize := int(m.Size), int(m.OutSize)
	tasks := len(m.Ends)
	if size > 0 {
		tasks = len(m.Args) / size
	}
	res := wireMsg{Kind: msgResults, Call: m.Call, Chunk: m.Chunk, Size: uint32(outSize)}
	if outSize > 0 {
		res.Out = make([]byte, 0, min(tasks, resultBatch)*outSize)
	}
	batched := 0 // outcomes in res
	// due says flushEvery has passed since the last send: a timer sets
	// it, as reading the clock after every task would cost a trivial
	// task more than the task.
	var due atomic.Bool
	var timer *time.Timer
	if tasks > 1 {
		timer = time.AfterFunc(flushEvery, func() { due.Store(true) })
		defer timer.Stop()
	}
	flush := func(last bool) error {
		res.Last = last
		err := send(&res)
		res.From += batched
		batched = 0
		res.Out, res.Ends, res.FailAt, res.Errs = res.Out[:0], res.Ends[:0], res.FailAt[:0], res.Errs[:0]
		if timer != nil && !last {
			due.Store(false)
			timer.Reset(flushEvery)
		}
		return err
	}
	fail := func(t *TaskError) {
		if outSize > 0 {
			res.FailAt = append(res.FailAt, uint32(batched))
			res.Out = append(res.Out, make([]byte, outSize)...)
		} else {
			res.Ends = append(res.Ends, uint32(len(res.Out))|failBit)
		}
		res.Errs = append(res.Errs, appendTaskError(nil, t))
		batched++
	}
	succeed := func() {
		if outSize == 0 {
			res.Ends = append(res.Ends, uint32(len(res.Out)))
		}
		batched++
	}
	start := 0
	for i := range tasks {
		var arg []byte
		if size > 0 {
			arg = m.Args[i*size : (i+1)*size]
		} else {
			end := m.Ends[i]
			if end < uint32(start) || end > uint32(len(m.Args)) {
				w.prog.begin(m.Chunk, i, false)
				fail(taskCorrupt(m.Func, "argument", fmt.Errorf("%w: task %d of chunk %d ends at byte %d of %d", ErrCorrupt, i, m.Chunk, end, len(m.Args))))
				w.prog.end(i)
				continue
			}
			arg = m.Args[start:end]
			start = int(end)
		}
		w.prog.begin(m.Chunk, i, m.Hard > 0)
		if w.prog.cancels.seq.Load() != w.seen {
			skip = w.isCancelled(m.Call)
		}
		switch {
		case skip:
			fail(&TaskError{PID: os.Getpid(), Func: m.Func, Message: context.Canceled.Error(), Err: context.Canceled})
		case terr != nil:
			fail(terr)
		default:
			var t *TaskError
			n := len(res.Out)
			res.Out, t = w.runTask(ctx, m, run, res.Out, arg)
			if t == nil && outSize > 0 && len(res.Out)-n != outSize {
				t = &TaskError{PID: os.Getpid(), Func: m.Func, Err: ErrCorrupt,
					Message: fmt.Sprintf("its result took %d bytes, not the %d of its type in the caller: the worker is another build", len(res.Out)-n, outSize)}
			}
			if t != nil {
				res.Out = res.Out[:n]
				fail(t)
			} else {
				succeed()
			}
		}
		w.prog.end(i)
		if i+1 < tasks && (w.flushEach || batched >= resultBatch || len(res.Out) >= resultBytes || due.Load()) {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	return flush(true)
}

// runTask runs one task under its timeouts.
func (w *workerProc) runTask(ctx context.Context, m *wireMsg, run runFunc, dst, arg []byte) ([]byte, *TaskError) {
	if m.Soft > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Soft)
		defer cancel()
	}
	if m.Hard > 0 {
		// The worker cannot stop a goroutine, so a task past its hard
		// timeout ends the process; the parent fails it with ErrTimeout
		// and replaces the worker.
		t := time.AfterFunc(m.Hard, func() { os.Exit(exitHardTimeout) })
		defer t.Stop()
	}
	return run(ctx, dst, arg)
}

// residentBytes is this process's resident set size, or 0 if unknown.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		return 0
	}
	return rss * int64(os.Getpagesize())
}
