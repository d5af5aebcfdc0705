// Package remote is the seam between package pool and the transports that
// carry a Pool's tasks to workers on other machines (pool/cluster): the
// types both sides speak, and the hooks by which pool lends a transport
// what only pool has — its Option type, its worker's chunk runner, its
// registry's fingerprint — without pool importing the transport (and so
// without every binary that uses a local Pool linking NATS).
//
// Package pool sets Pool in its init. A transport package imports pool
// (for pool.Option and *pool.Pool) and this package, so pool's init has
// run before the transport's code can.
//
// The protocol between a pool and a transport:
//
//   - Start once, from pool.New: the transport connects and says how many
//     workers the pool's chunking should plan for.
//   - Send hands over a chunk of consecutive tasks of one call. Send never
//     waits for the network (the pool's engine calls it holding its
//     mutex): it checks the chunk's size, encodes it, and queues it. A
//     chunk past the transport's message limit is an error wrapping
//     pool.ErrTooLarge; the pool then sends a chunk of several tasks
//     again as two halves, and fails a call whose single task is past it.
//   - Cancel says a call's caller went away: its chunks not yet taken
//     should go, and workers running its tasks should cancel them.
//   - Close ends the transport once the pool has no call in progress (or
//     has failed them all); it may wait for the network.
//
// The transport reports on the Sink it was given: Results for each batch
// of outcomes a worker sent (in any order, any number of times: the pool
// keeps each task's first outcome and drops the rest), Lost for a chunk
// whose deliveries all ended without a worker finishing it, Refused for a
// chunk a worker would not run, and Stopped when it has failed for good.
// The Sink's methods never wait either.
package remote

import (
	"errors"
	"time"
)

// A Chunk is consecutive tasks of one call, as they travel to a worker:
// package pool's msgChunk.
type Chunk struct {
	Call    uint64 // the call's id in its pool
	Seq     uint64 // the chunk's id in its pool
	Func    string // the registered function's name
	Recv    []byte // a bound receiver's encoding, or none
	Args    []byte // the tasks' arguments, one after another
	Ends    []uint32
	Size    uint32 // every argument's size (codec.Layout), or 0: Ends says
	OutSize uint32 // every result's size, or 0
	Soft    time.Duration
	Hard    time.Duration
}

// Tasks is the number of tasks in c.
func (c *Chunk) Tasks() int {
	if c.Size > 0 {
		return len(c.Args) / int(c.Size)
	}
	return len(c.Ends)
}

// Results are the outcomes of tasks From.. of chunk Seq, in package
// pool's msgResults format: Out, one result after another, and Ends, an
// end with FailBit set marking a failed task whose *TaskError is the next
// of Errs — or, with Size set, Size bytes per task, a failed one's zero,
// and FailAt listing the failed ones (their index from From).
type Results struct {
	Seq    uint64
	From   int
	Out    []byte
	Ends   []uint32
	Size   uint32
	FailAt []uint32
	Errs   [][]byte
	Last   bool
}

// FailBit marks, in Results.Ends, a task that failed.
const FailBit = 1 << 31

// A Transport carries a pool's chunks to workers elsewhere and their
// outcomes back (see the package comment).
type Transport interface {
	Start(sink Sink) (workers int, err error)
	Send(c *Chunk) error
	Cancel(call uint64)
	Close() error
}

// A Sink takes what a transport has to report (see the package comment).
type Sink interface {
	// Results is a batch of outcomes; worker names who sent it, pid its
	// process ("" and 0 if unknown).
	Results(r *Results, worker string, pid int)
	// Started says that worker pid took chunk seq on its last allowed
	// delivery: if it dies, the task it was running is the one lost.
	Started(seq uint64, worker string, pid int)
	// Lost says that chunk seq was delivered deliveries times and no
	// worker finished it: its first task without an outcome fails with
	// ErrWorkerDied and the rest run again.
	Lost(seq uint64, deliveries int, why string)
	// Refused says a worker would not run chunk seq: its tasks without an
	// outcome fail with err, a sentinel (ErrBuildMismatch, ErrCorrupt),
	// and why, the worker's words.
	Refused(seq uint64, err error, worker string, pid int, why string)
	// Stopped says the transport has failed for good: every call fails
	// with err.
	Stopped(err error)
}

// A Runner runs chunks in a worker process: package pool's worker loop,
// lent to a transport's worker.
type Runner interface {
	// Run runs c's tasks in order and sends their results in batches to
	// send, which must not keep r past its return. flushEach sends after
	// every task (the chunk's last allowed delivery: if this worker dies,
	// the first task without an outcome is the one it was running);
	// maxBytes bounds a batch's encoding (a result alone past it fails
	// with ErrTooLarge). Call is the call's id in this worker (Cancel's).
	Run(c *Chunk, flushEach bool, maxBytes int, send func(r *Results) error) error
	// Cancel cancels the running tasks of call, and makes Run skip its
	// tasks from now on.
	Cancel(call uint64)
}

// PoolHooks are what package pool lends a transport.
type PoolHooks struct {
	// Option returns a pool.Option (as any) that makes pool.New use t.
	Option func(t Transport) any
	// NewRunner returns the chunk runner of a worker process; number is
	// its place among the workers its host started, from 1.
	NewRunner func(number int) (Runner, error)
	// Fingerprint is the registry's: registered names, argument, result
	// and receiver types.
	Fingerprint func() uint64
	// TaskError encodes a task's failure as a worker sends it.
	TaskError func(pid int, fn, message string, sentinel error) []byte
}

// Pool is set by package pool's init.
var Pool PoolHooks

// ErrBuildMismatch is the sentinel of a task refused by a worker whose
// registered functions differ from its caller's.
var ErrBuildMismatch = errors.New("worker of another build")
