package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// The worker's side, run in this process: what a Pool's worker does with
// each task it is given.

type scaler struct{ By int }

func (s scaler) Scale(ctx context.Context, x int) (int, error) { return s.By * x, nil }

var (
	runSquare = Register(func(ctx context.Context, x int) (int, error) { return x * x, nil })
	runPanic  = Register(func(ctx context.Context, x int) (int, error) {
		var m map[int]int
		m[x] = x // a runtime error, as a panic value
		return 0, nil
	})
	runEOF    = Register(func(ctx context.Context, x int) (int, error) { return 0, fmt.Errorf("reading: %w", io.EOF) })
	runScale  = RegisterMethod(scaler.Scale)
	runResult = Register(func(ctx context.Context, x int) (any, error) { return func() {}, nil })

	// dupPanic is what registering one name twice during package
	// initialization panics with.
	dupPanic = func() (r any) {
		defer func() { r = recover() }()
		RegisterName("pool-internal-test/dup", func(ctx context.Context, x int) (int, error) { return x, nil })
		RegisterName("pool-internal-test/dup", func(ctx context.Context, s string) (string, error) { return s, nil })
		return nil
	}()
)

// runTask runs one task of f the way a worker does.
func runTask[In, Out any](t *testing.T, f *Func[In, Out], x In) (Out, *TaskError) {
	t.Helper()
	recv, err := f.appendRecv(nil)
	if err != nil {
		t.Fatal(err)
	}
	arg, err := f.appendArg(nil, &x)
	if err != nil {
		t.Fatal(err)
	}
	e, terr := lookupFunc(f.Name())
	if terr != nil {
		t.Fatal(terr)
	}
	run, terr := e.bind(recv)
	if terr != nil {
		var zero Out
		return zero, terr
	}
	res, terr := run(context.Background(), []byte("kept:"), arg)
	if terr != nil {
		var zero Out
		return zero, terr
	}
	if !strings.HasPrefix(string(res), "kept:") {
		t.Fatalf("the runner did not append to dst: %q", res)
	}
	out, err := f.decodeOut(res[len("kept:"):])
	if err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func TestRunnerRunsByName(t *testing.T) {
	if out, terr := runTask(t, runSquare, 9); terr != nil || out != 81 {
		t.Fatalf("square(9) = %v, %v", out, terr)
	}
	if out, terr := runTask(t, runScale.Bind(scaler{By: 7}), 6); terr != nil || out != 42 {
		t.Fatalf("scaler{7}.Scale(6) = %v, %v", out, terr)
	}
}

func TestRunnerTurnsFailuresIntoTaskErrors(t *testing.T) {
	_, terr := runTask(t, runPanic, 1)
	if terr == nil || !terr.Panic || !strings.Contains(terr.Message, "nil map") || !strings.Contains(terr.Stack, "register_run_test.go") {
		t.Fatalf("panic: %+v", terr)
	}
	_, terr = runTask(t, runEOF, 1)
	if terr == nil || terr.Err != io.EOF || terr.Message != "reading: EOF" || !errors.Is(terr, io.EOF) {
		t.Fatalf("error: %+v", terr)
	}
	_, terr = runTask(t, runResult, 1)
	if terr == nil || !errors.Is(terr, ErrUnsupportedType) || !strings.Contains(terr.Message, "result cannot be sent back") {
		t.Fatalf("unencodable result: %+v", terr)
	}
}

func TestRunnerRefusesForeignBytes(t *testing.T) {
	if _, terr := lookupFunc("no/such/func"); terr == nil || !errors.Is(terr, ErrNotRegistered) {
		t.Fatalf("unknown name: %v", terr)
	}
	e, _ := lookupFunc(runSquare.Name())
	if _, terr := e.bind([]byte{1}); terr == nil || !errors.Is(terr, ErrCorrupt) {
		t.Fatalf("a receiver for a plain function: %v", terr)
	}
	run, _ := e.bind(nil)
	if _, terr := run(context.Background(), nil, []byte{1, 2, 3}); terr == nil || !errors.Is(terr, ErrCorrupt) {
		t.Fatalf("a short argument: %v", terr)
	}
	m, _ := lookupFunc(runScale.Name())
	if _, terr := m.bind([]byte{1}); terr == nil || !errors.Is(terr, ErrCorrupt) {
		t.Fatalf("a short receiver: %v", terr)
	}
}

func TestDuplicateNamePanicsAtInit(t *testing.T) {
	if s := fmt.Sprint(dupPanic); !strings.Contains(s, "pool-internal-test/dup is registered twice") || !strings.Contains(s, "RegisterName") {
		t.Fatalf("registering a name twice: %v", dupPanic)
	}
}

func TestTaskErrorCrossesWithItsSentinel(t *testing.T) {
	for _, in := range []*TaskError{
		{PID: 42, Func: "f", Message: "boom", Panic: true, Stack: "goroutine 1 [running]:\n..."},
		{PID: 7, Func: "g", Message: "late", Err: context.DeadlineExceeded},
		{PID: 7, Func: "g", Message: "closed", Err: ErrPoolClosed},
	} {
		out, err := decodeTaskError(appendTaskError(nil, in))
		if err != nil || *out != *in {
			t.Fatalf("%+v came back as %+v, %v", in, out, err)
		}
	}
	if sentinelOf(fmt.Errorf("x: %w", ErrPoolClosed)) != ErrPoolClosed {
		t.Fatal("ErrPoolClosed matched as something it wraps")
	}
	// Foreign bytes: an error, never a panic or a sentinel out of range.
	b := appendTaskError(nil, &TaskError{Message: "m"})
	b[len(b)-2] = 0xff
	for i := range len(b) {
		decodeTaskError(b[:i])
	}
	if _, err := decodeTaskError(b); err == nil {
		t.Fatal("a sentinel out of range was accepted")
	}
}

func TestRegistryFingerprint(t *testing.T) {
	a, b := registryFingerprint(), registryFingerprint()
	if a != b || a == 0 {
		t.Fatalf("fingerprint %x then %x", a, b)
	}
	// It covers the types' shapes: the same names with another type
	// would differ.
	registry.mu.Lock()
	e := registry.byName[runSquare.Name()]
	saved := e.in
	e.in = reflect.TypeFor[string]()
	registry.mu.Unlock()
	c := registryFingerprint()
	registry.mu.Lock()
	e.in = saved
	registry.mu.Unlock()
	if c == a {
		t.Fatal("the fingerprint ignores argument types")
	}
}
