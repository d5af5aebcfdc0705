package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/multiproc/multiproc/internal/codec"
)

// How a task's failure crosses processes.
//
// An error is a Go value of any type, which another process may not have;
// what crosses is its text, and, when it wraps one of the sentinels below,
// that sentinel's place in the table, so that errors.Is works on the
// *TaskError the caller gets (TaskError.Err). The table's order is the
// wire's: both ends run one build, but workers of another build (issue
// 14) read it too, so entries are only ever appended. The first entry the
// error matches wins, so ones that wrap others (ErrPoolClosed wraps
// ErrClosed) come first.
var sentinels = []error{
	ErrNotRegistered, ErrTimeout, ErrWorkerDied, ErrNoInit,
	ErrPoolClosed, ErrShutDown, ErrClosed,
	ErrFull, ErrEmpty, ErrTooLarge, ErrTaskDoneTooOften, ErrConsumerDied, ErrPeerDied, ErrPeerClosed, ErrWrongWay, ErrEndTaken,
	ErrCorrupt, ErrKindMismatch, ErrTypeMismatch, ErrUnsupportedType, ErrInvalidName, ErrNoSpace, ErrInvalidArgument,
	context.Canceled, context.DeadlineExceeded,
	fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, io.EOF, io.ErrUnexpectedEOF,
}

// sentinelOf is the first sentinel err wraps, or nil.
func sentinelOf(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// taskErrorWire is a *TaskError as it crosses (Index is the caller's).
type taskErrorWire struct {
	PID      int64
	Func     string
	Message  string
	Panic    bool
	Stack    string
	Sentinel uint16 // 1 + its index in sentinels; 0 for none
}

var taskErrorCodec = mustCodec[taskErrorWire]("pool", "TaskError", "wire")

// appendTaskError appends the encoding of e.
func appendTaskError(dst []byte, e *TaskError) []byte {
	w := taskErrorWire{PID: int64(e.PID), Func: e.Func, Message: e.Message, Panic: e.Panic, Stack: e.Stack}
	for i, s := range sentinels {
		if e.Err == s {
			w.Sentinel = uint16(i + 1)
		}
	}
	b, err := codec.Append(taskErrorCodec, dst, &w)
	if err != nil {
		panic("pool: a TaskError does not encode: " + err.Error()) // strings and numbers always do
	}
	return b
}

// decodeTaskError decodes what appendTaskError wrote (bytes a worker
// wrote: never trusted).
func decodeTaskError(b []byte) (*TaskError, error) {
	w, err := codec.Decode(taskErrorCodec, b)
	if err != nil {
		return nil, fmt.Errorf("pool: a task's error: %w", err)
	}
	e := &TaskError{PID: int(w.PID), Func: w.Func, Message: w.Message, Panic: w.Panic, Stack: w.Stack}
	if w.Sentinel > 0 {
		if int(w.Sentinel) > len(sentinels) {
			return nil, fmt.Errorf("%w: a task's error names sentinel %d of %d", ErrCorrupt, w.Sentinel, len(sentinels))
		}
		e.Err = sentinels[w.Sentinel-1]
	}
	return e, nil
}
