package pool

// A remote worker's chunk runner: the local worker's runChunk, lent to a
// transport's worker process (remote.Runner) with a send callback in place
// of the worker's pipe. The progress page is the worker's own (nobody
// reads its words from outside: a remote worker's death is seen by the
// transport's ack deadline instead), and its cancel ring carries the
// cancellations the transport receives, so that the runner skips the
// tasks of a cancelled call and the watcher cancels the running one's
// ctx, as in a local worker.

import (
	"fmt"
	"os"
	"strconv"

	"github.com/multiproc/multiproc/pool/internal/remote"
)

type remoteRunner struct {
	w *workerProc
}

func newRemoteRunner(number int) (remote.Runner, error) {
	prog, err := newProgress()
	if err != nil {
		return nil, err
	}
	w := &workerProc{prog: prog, cancelled: map[uint64]bool{}}
	w.seen = prog.cancelled(0, func(uint64) {})
	go w.watch(w.seen)
	setCurrentProcess("ClusterWorker-"+strconv.Itoa(number), []int{number},
		ProcessInfo{Name: "MainProcess", PID: os.Getppid()})
	return &remoteRunner{w: w}, nil
}

func (r *remoteRunner) Cancel(call uint64) { r.w.prog.cancel(call) }

func (r *remoteRunner) Run(c *remote.Chunk, flushEach bool, maxBytes int, send func(*remote.Results) error) error {
	m := wireMsg{Kind: msgChunk, Call: c.Call, Chunk: c.Seq, Func: c.Func, Recv: c.Recv, Args: c.Args, Ends: c.Ends,
		Size: c.Size, OutSize: c.OutSize, Soft: c.Soft, Hard: c.Hard}
	r.w.flushEach = flushEach
	defer func() { r.w.flushEach = false }()
	return r.w.runChunk(&m, func(res *wireMsg) error {
		out := &remote.Results{Seq: res.Chunk, From: res.From, Out: res.Out, Ends: res.Ends, Size: res.Size,
			FailAt: res.FailAt, Errs: res.Errs, Last: res.Last}
		return sendWithin(out, c.Func, maxBytes, send)
	})
}

// sendWithin sends r, split into batches of at most maxBytes encoded; a
// single result past it is sent as its task's failure (ErrTooLarge).
func sendWithin(r *remote.Results, fn string, maxBytes int, send func(*remote.Results) error) error {
	n := r.Count()
	if maxBytes <= 0 || r.EncodedSize() <= maxBytes {
		return send(r)
	}
	if n > 1 {
		a, err := r.Slice(0, n/2)
		if err != nil {
			return err
		}
		b, err := r.Slice(n/2, n)
		if err != nil {
			return err
		}
		if err := sendWithin(a, fn, maxBytes, send); err != nil {
			return err
		}
		return sendWithin(b, fn, maxBytes, send)
	}
	if n == 0 {
		return send(r)
	}
	t := &TaskError{PID: os.Getpid(), Func: fn, Err: ErrTooLarge,
		Message: fmt.Sprintf("its result takes %d bytes encoded, past the %d bytes a message may carry here (the NATS server's max_payload)", r.EncodedSize(), maxBytes)}
	f := &remote.Results{Seq: r.Seq, From: r.From, Size: r.Size, Last: r.Last, Errs: [][]byte{appendTaskError(nil, t)}}
	if r.Size > 0 {
		f.Out = make([]byte, r.Size)
		f.FailAt = []uint32{0}
	} else {
		f.Ends = []uint32{remote.FailBit}
	}
	return send(f)
}
