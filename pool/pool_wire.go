package pool

// The messages between a Pool and one worker: one duplex Pipe[wireMsg]
// per worker, end 0 the parent's, end 1 the worker's (it takes the end
// over when it starts), carried by the default codec.
//
// Parent → worker:
//
//	msgInit     the first message: the Initializer to run (Func, Recv,
//	            Args; Func empty for none)
//	msgChunk    tasks to run, in order: Call, Chunk (the pool-wide id of
//	            the chunk), Func, Recv (a bound receiver), Args (the tasks'
//	            arguments, one after another) and Ends (where each ends in
//	            Args) — or, for an argument type whose encoding is its
//	            memory (codec.Layout), Size (each argument's) and no Ends;
//	            OutSize, the same for the result type (0: sizes vary);
//	            Soft and Hard (the timeouts)
//	msgStop     finish the chunks in hand and exit
//
// Worker → parent:
//
//	msgReady    the Initializer ran, or failed (Errs[0]); PID
//	msgResults  results of tasks From.. of chunk Chunk, in order: Out (one
//	            blob) and Ends (where each task's result ends in Out, the
//	            last at its end), an end with failBit set marking a task
//	            that failed — its slot empty, its end the one before, its
//	            *TaskError the next of Errs — or, when the
//	            chunk's OutSize is set, Size (= OutSize) and no Ends: Out
//	            is one result of Size bytes per task, a failed task's zero,
//	            and FailAt lists the failed ones (their index from From),
//	            with Errs; Last when the chunk is done
//	msgRetire   the worker exits after the chunk that ended last
//	            (MaxTasksPerChild, the memory ceiling): Reason
//
// Cancellations go through the worker's progress page, not the pipe, so
// that they overtake the chunks queued in it (progress.go).
//
// A worker's progress is also in shared memory, its progress words
// (progress.go), written before and after each task: when a worker dies,
// the parent knows which task it was running (that one failed with it),
// which had finished but had their results still unsent (they run again),
// and which it had not reached (they go to another worker).

import "time"

const (
	msgInit uint8 = iota + 1
	msgChunk
	msgStop
	msgReady
	msgResults
	msgRetire
)

// failBit marks, in a msgResults' Ends, a task that failed: its result
// slot is empty (the end, failBit aside, is the end before it) and its
// error is the next of Errs.
const failBit = 1 << 31

// wireMsg is every message; the fields a kind does not use stay empty.
type wireMsg struct {
	Kind    uint8
	Call    uint64
	Chunk   uint64
	Func    string
	Recv    []byte
	Args    []byte
	Ends    []uint32
	Size    uint32 // fixed size of each argument (msgChunk) or result (msgResults)
	OutSize uint32
	FailAt  []uint32
	From    int
	Out     []byte
	Errs    [][]byte // each a *TaskError (appendTaskError)
	Last    bool
	Soft    time.Duration
	Hard    time.Duration
	PID     int
	Reason  string
}
