package pool

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/multiproc/multiproc/internal/codec"
)

// The registry, and how a worker runs a function by name.
//
// Every process builds the same registry during package initialization;
// after Init it is only read. A worker given a task looks its function up
// by name (lookupFunc), binds the call's receiver once per batch of tasks
// (entry.bind: a plain function has none), and runs each task's encoded
// argument through the runFunc that returns, which decodes the argument,
// calls the function (a panic recovered, with its stack, into a
// *TaskError), and appends the encoded result:
//
//	e, terr := lookupFunc(name)          // once per call or batch
//	run, terr := e.bind(recv)            // once per batch
//	for each arg: res, terr = run(ctx, res, arg)
//
// Every failure of a task is a *TaskError (its Index left for the caller
// to set), ready for appendTaskError.

// runFunc runs one task: it appends the encoding of fn(ctx, arg) to dst,
// or returns dst and the task's failure.
type runFunc func(ctx context.Context, dst, arg []byte) ([]byte, *TaskError)

// entry is one registered function, its types erased.
type entry struct {
	name          string
	in, out, recv reflect.Type // recv is nil for a plain function
	// bind decodes a call's receiver (empty for a plain function) and
	// returns the runner for its tasks.
	bind func(recv []byte) (runFunc, *TaskError)
}

var registry struct {
	mu     sync.RWMutex
	byName map[string]*entry
}

// enroll adds e to the registry, or returns why the handle for fn must be
// refused: registered after Init or outside package initialization, or a
// method value. A name taken already panics (see Registration).
func enroll(op, name string, fn any, e *entry) (*entry, error) {
	if sym := funcName(fn); strings.HasSuffix(sym, "-fm") {
		return nil, fmt.Errorf("%w: %s is a method value, bound to one receiver in this process, which workers do not have: register the method expression at package level (var m = pool.RegisterMethod(T.Method)) and Bind the receiver when you call", ErrNotRegistered, name)
	}
	if initRan() || (initVisible && !inPackageInit()) {
		when := "outside package initialization"
		if initRan() {
			when = "after pool.Init"
		}
		return nil, fmt.Errorf("%w: %s was registered %s, so worker processes, which run only package initialization and Init, do not have it (a function made at run time, such as a closure over local variables, cannot reach another process): register it in a package-level var (var f = pool.Register(...)) and pass what it needs in its argument, or keep state in a struct with RegisterMethod and Bind", ErrNotRegistered, name, when)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.byName == nil {
		registry.byName = map[string]*entry{}
	}
	if old, dup := registry.byName[name]; dup {
		panic(fmt.Sprintf("%s: the name %s is registered twice (%s → %s, and %s → %s): register each function once, or give one of them another name with the RegisterName form", op, name, old.in, old.out, e.in, e.out))
	}
	registry.byName[name] = e
	return e, nil
}

// lookupFunc returns the function registered as name in this process.
func lookupFunc(name string) (*entry, *TaskError) {
	registry.mu.RLock()
	e := registry.byName[name]
	registry.mu.RUnlock()
	if e == nil {
		return nil, &TaskError{PID: os.Getpid(), Func: name, Err: ErrNotRegistered,
			Message: fmt.Sprintf("%s is not registered in worker pid %d: register functions in package-level vars, which every process of the program initializes", name, os.Getpid())}
	}
	return e, nil
}

// bindFunc is the bind of a plain function.
func bindFunc[In, Out any](name string, fn func(context.Context, In) (Out, error), inC codec.Codec[In], outC codec.Codec[Out]) func([]byte) (runFunc, *TaskError) {
	run := runner(name, fn, inC, outC)
	return func(recv []byte) (runFunc, *TaskError) {
		if len(recv) != 0 {
			return nil, taskCorrupt(name, "receiver", fmt.Errorf("%w: %d bytes of receiver for a function that takes none", ErrCorrupt, len(recv)))
		}
		return run, nil
	}
}

// runner returns the runFunc of fn.
func runner[In, Out any](name string, fn func(context.Context, In) (Out, error), inC codec.Codec[In], outC codec.Codec[Out]) runFunc {
	return func(ctx context.Context, dst, arg []byte) ([]byte, *TaskError) {
		x, err := codec.Decode(inC, arg)
		if err != nil {
			return dst, taskCorrupt(name, "argument", err)
		}
		out, terr := callSafely(ctx, name, fn, x)
		if terr != nil {
			return dst, terr
		}
		res, err := codec.Append(outC, dst, &out)
		if err != nil {
			return dst, &TaskError{PID: os.Getpid(), Func: name, Err: sentinelOf(err),
				Message: fmt.Sprintf("its result cannot be sent back: %v", err)}
		}
		return res, nil
	}
}

// callSafely calls fn(ctx, x), turning its error or its panic into a
// *TaskError.
func callSafely[In, Out any](ctx context.Context, name string, fn func(context.Context, In) (Out, error), x In) (out Out, terr *TaskError) {
	defer func() {
		if r := recover(); r != nil {
			terr = &TaskError{PID: os.Getpid(), Func: name, Panic: true, Message: fmt.Sprint(r), Stack: string(debug.Stack())}
			if err, ok := r.(error); ok {
				terr.Err = sentinelOf(err)
			}
		}
	}()
	out, err := fn(ctx, x)
	if err != nil {
		return out, &TaskError{PID: os.Getpid(), Func: name, Message: err.Error(), Err: sentinelOf(err)}
	}
	return out, nil
}

func taskCorrupt(name, what string, err error) *TaskError {
	return &TaskError{PID: os.Getpid(), Func: name, Err: sentinelOf(err),
		Message: fmt.Sprintf("its %s did not decode in the worker: %v", what, err)}
}

// registryFingerprint is a hash of every registered name with its
// argument, result and receiver types' shapes (codec.Fingerprint): two
// builds whose fingerprints match can run each other's tasks. Issue 14's
// workers on other machines compare it.
func registryFingerprint() uint64 {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	names := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	h := fnv.New64a()
	for _, n := range names {
		e := registry.byName[n]
		var recv uint64
		if e.recv != nil {
			recv = codec.Fingerprint(e.recv)
		}
		fmt.Fprintf(h, "%q %x %x %x\n", n, codec.Fingerprint(e.in), codec.Fingerprint(e.out), recv)
	}
	return h.Sum64()
}
