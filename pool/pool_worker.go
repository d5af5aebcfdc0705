package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/multiproc/multiproc/internal/reexec"
)

// The worker: a child started in role pool.worker with its pipe end's
// name as its argument and its progress page as the inherited file
// "progress".
//
// Two goroutines. The reader takes the parent's messages off the pipe:
// chunks go to the runner's queue (the parent sends a worker at most two
// chunks ahead, so the queue stays short), a cancel is noted at once (and
// cancels the ctx of the running task if it is the call's), a stop closes
// the queue. The runner runs each chunk's tasks in order, writing the
// progress words around each, and sends results back in batches: at the
// chunk's end, every resultBatch tasks, every resultBytes bytes, and when
// flushEvery has passed since the last send — so a long chunk of slow
// tasks reports as it goes, and a Map of trivial ones sends a few large
// messages.
//
// A worker exits when its queue is closed and drained (msgStop), after
// the chunk that reached MaxTasksPerChild or the memory ceiling (sending
// msgRetire first), when its pipe fails (the parent is gone: there is
// nobody to run for), or, for a task past its hard timeout, at once with
// status exitHardTimeout.

const roleWorker = "worker"

const (
	// exitHardTimeout is a worker's exit status when a task passed its
	// hard timeout; the parent fails that task with ErrTimeout.
	exitHardTimeout = 86
	// exitParentGone is its status when its pipe to the parent failed.
	exitParentGone = 87

	resultBatch = 256
	resultBytes = 256 << 10
	flushEvery  = 2 * time.Millisecond
	// cancelMemory is how many cancelled calls a worker remembers: only
	// calls with chunks still queued in it matter, a handful.
	cancelMemory = 256
)

func init() { registerRole(roleWorker, runWorker) }

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

	queue chan *wireMsg // chunks to run; closed by msgStop

	mu        sync.Mutex
	cancelled map[uint64]bool
	order     []uint64           // cancelled calls, oldest first
	running   uint64             // the call whose chunk the runner is in
	stopTask  context.CancelFunc // cancels the running chunk's ctx
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
	w := &workerProc{args: args, conn: conn, prog: prog, queue: make(chan *wireMsg, 8), cancelled: map[uint64]bool{}}
	// Python names its workers ForkPoolWorker-N, N counting the workers
	// the pool started.
	setCurrentProcess("PoolWorker-"+strconv.Itoa(args.number), []int{args.number},
		ProcessInfo{Name: "MainProcess", PID: os.Getppid()})
	if code, ok := w.initialize(); !ok {
		return code
	}
	go w.read()
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

// read serves the parent's messages until the pipe ends.
func (w *workerProc) read() {
	for {
		m, err := w.conn.Recv(context.Background())
		if errors.Is(err, ErrClosed) {
			return // the worker is exiting
		}
		if err != nil {
			// The parent closed its end or died: nobody wants what is
			// running. Exit without finishing it.
			os.Exit(exitParentGone)
		}
		switch m.Kind {
		case msgChunk:
			w.queue <- &m
		case msgCancel:
			w.cancel(m.Call)
		case msgStop:
			close(w.queue)
			return
		}
	}
}

func (w *workerProc) cancel(call uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.cancelled[call] {
		w.cancelled[call] = true
		w.order = append(w.order, call)
		if len(w.order) > cancelMemory {
			delete(w.cancelled, w.order[0])
			w.order = w.order[1:]
		}
	}
	if w.running == call && w.stopTask != nil {
		w.stopTask()
	}
}

func (w *workerProc) isCancelled(call uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cancelled[call]
}

// run runs chunks until the queue is closed or the worker retires.
func (w *workerProc) run() int {
	chunks := 0
	for m := range w.queue {
		if err := w.runChunk(m); err != nil {
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
	return 0
}

// runChunk runs the tasks of one chunk and sends their results.
func (w *workerProc) runChunk(m *wireMsg) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.mu.Lock()
	w.running, w.stopTask = m.Call, cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running, w.stopTask = 0, nil
		w.mu.Unlock()
	}()

	var run runFunc
	e, terr := lookupFunc(m.Func)
	if terr == nil {
		run, terr = e.bind(m.Recv)
	}
	res := wireMsg{Kind: msgResults, Call: m.Call, Chunk: m.Chunk}
	lastSend := time.Now()
	flush := func(last bool) error {
		res.Last = last
		err := w.conn.Send(context.Background(), res)
		res.From += len(res.Ends)
		res.Out, res.Ends, res.Errs = res.Out[:0], res.Ends[:0], res.Errs[:0]
		lastSend = time.Now()
		return err
	}
	fail := func(t *TaskError) {
		res.Ends = append(res.Ends, uint32(len(res.Out))|failBit)
		res.Errs = append(res.Errs, appendTaskError(nil, t))
	}
	start := 0
	for i, end := range m.Ends {
		if end < uint32(start) || end > uint32(len(m.Args)) {
			fail(taskCorrupt(m.Func, "argument", fmt.Errorf("%w: task %d of chunk %d ends at byte %d of %d", ErrCorrupt, i, m.Chunk, end, len(m.Args))))
			w.prog.begin(m.Chunk, i, false)
			w.prog.end(i)
			continue
		}
		arg := m.Args[start:end]
		start = int(end)
		w.prog.begin(m.Chunk, i, m.Hard > 0)
		switch {
		case w.isCancelled(m.Call) || ctx.Err() != nil:
			fail(&TaskError{PID: os.Getpid(), Func: m.Func, Message: context.Canceled.Error(), Err: context.Canceled})
		case terr != nil:
			fail(terr)
		default:
			var t *TaskError
			n := len(res.Out)
			res.Out, t = w.runTask(ctx, m, run, res.Out, arg)
			if t != nil {
				res.Out = res.Out[:n]
				fail(t)
			} else {
				res.Ends = append(res.Ends, uint32(len(res.Out)))
			}
		}
		w.prog.end(i)
		if i+1 < len(m.Ends) && (len(res.Ends) >= resultBatch || len(res.Out) >= resultBytes || time.Since(lastSend) >= flushEvery) {
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
