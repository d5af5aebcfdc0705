package pool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/value"
)

// The functions the tests run in children, registered at package level as
// every program must.
var (
	square = pool.Register(func(ctx context.Context, x int) (int, error) { return x * x, nil })
	fail   = pool.Register(func(ctx context.Context, msg string) (int, error) { return 0, errors.New(msg) })
	late   = pool.Register(func(ctx context.Context, msg string) (int, error) {
		return 0, fmt.Errorf("%s: %w", msg, context.DeadlineExceeded)
	})
	boom   = pool.Register(func(ctx context.Context, msg string) (int, error) { panic(msg) })
	exitFn = pool.Register(func(ctx context.Context, code int) (int, error) { os.Exit(code); return 0, nil })
	// hold creates the file it is given, then runs until it is killed.
	hold = pool.Register(func(ctx context.Context, path string) (struct{}, error) {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			return struct{}{}, err
		}
		for {
			time.Sleep(time.Hour)
		}
	})
	// orphan creates dir/running, then dir/orphaned once its parent is
	// gone (and dir/ctx-done when its ctx ends), and runs on until it is
	// killed.
	orphan = pool.Register(func(ctx context.Context, dir string) (struct{}, error) {
		go func() {
			<-ctx.Done() // the parent is gone
			os.WriteFile(filepath.Join(dir, "ctx-done"), []byte(context.Cause(ctx).Error()), 0o600)
		}()
		ppid := os.Getppid()
		os.WriteFile(filepath.Join(dir, "running"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		for os.Getppid() == ppid {
			time.Sleep(5 * time.Millisecond)
		}
		os.WriteFile(filepath.Join(dir, "orphaned"), nil, 0o600)
		for {
			time.Sleep(time.Hour)
		}
	})
	// nest starts whoAmI in a child of its own.
	nest = pool.Register(func(ctx context.Context, _ struct{}) (struct{}, error) {
		p, err := pool.Start(whoAmI, struct{}{})
		if err != nil {
			return struct{}{}, err
		}
		err = p.Wait(ctx)
		fmt.Printf("waited for %s\n", p.Name())
		return struct{}{}, err
	})
	// leak makes a Value without a name and leaves it open as it exits,
	// writing its name and its tracker's pid to the file it is given.
	leak = pool.Register(func(ctx context.Context, path string) (struct{}, error) {
		v, err := value.New[int64](7)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, os.WriteFile(path, []byte(fmt.Sprintf("%s %d", v.Name(), track.PID())), 0o600)
	})
	anyArg = pool.Register(func(ctx context.Context, x any) (string, error) { return fmt.Sprint(x), nil })
	// whoAmI prints what the child knows of itself and its parent.
	whoAmI = pool.Register(func(ctx context.Context, _ struct{}) (struct{}, error) {
		me := pool.CurrentProcess()
		parent, ok := pool.ParentProcess()
		fmt.Printf("me %s %v; parent %s %d %v\n", me.Name, me.PID == os.Getpid(), parent.Name, parent.PID, ok)
		return struct{}{}, nil
	})
)

func init() {
	proctest.Register("process-parent", processParent)
}

func start[In, Out any](t *testing.T, fn *pool.Func[In, Out], arg In, opts ...pool.StartOption) *pool.Process {
	t.Helper()
	p, err := pool.Start(fn, arg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func wait(t *testing.T, p *pool.Process) error {
	t.Helper()
	return p.Wait(proctest.Context(t))
}

// waitFile waits, up to the test's deadline, for path to exist.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	ctx := proctest.Context(t)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return b
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never appeared", path)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func TestProcessReturnExitsZero(t *testing.T) {
	proctest.CheckShm(t)
	p := start(t, square, 7)
	if err := wait(t, p); err != nil {
		t.Fatal(err)
	}
	if code, ok := p.ExitCode(); code != 0 || !ok || p.Alive() {
		t.Fatalf("exit code %d %v, alive %v", code, ok, p.Alive())
	}
	if !strings.HasPrefix(p.Name(), "Process-") || p.Func() != square.Name() {
		t.Fatalf("name %q, func %q", p.Name(), p.Func())
	}
	if s := p.String(); !strings.Contains(s, "stopped exitcode=0") || !strings.Contains(s, "pid="+strconv.Itoa(p.Pid())) {
		t.Fatalf("String: %s", s)
	}
}

func TestProcessErrorComesBackAsTaskError(t *testing.T) {
	p := start(t, fail, "disk full")
	err := wait(t, p)
	var te *pool.TaskError
	if !errors.As(err, &te) || te.Message != "disk full" || te.Panic || te.PID != p.Pid() || te.Func != fail.Name() {
		t.Fatalf("Wait: %#v", err)
	}
	if code, _ := p.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1 (Python's, for an exception)", code)
	}
	// A sentinel the error wrapped survives the crossing.
	err = wait(t, start(t, late, "too slow"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "too slow: context deadline exceeded") {
		t.Fatalf("Wait: %v", err)
	}
}

func TestProcessPanicComesBackWithItsStack(t *testing.T) {
	p := start(t, boom, "kaboom")
	err := wait(t, p)
	var te *pool.TaskError
	if !errors.As(err, &te) || !te.Panic || te.Message != "kaboom" {
		t.Fatalf("Wait: %#v", err)
	}
	if !strings.Contains(te.Stack, "panic(") || !strings.Contains(te.Stack, "process_test.go") {
		t.Fatalf("the stack does not show the panic in the function:\n%s", te.Stack)
	}
	if code, _ := p.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}

func TestProcessOsExit(t *testing.T) {
	p := start(t, exitFn, 3)
	err := wait(t, p)
	var ee *pool.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Status != "exit status 3" || !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("Wait: %#v", err)
	}
	if code, _ := p.ExitCode(); code != 3 {
		t.Fatalf("exit code %d", code)
	}
	// os.Exit(0) is a success, as sys.exit(0) is in Python.
	if err := wait(t, start(t, exitFn, 0)); err != nil {
		t.Fatalf("os.Exit(0): %v", err)
	}
}

// running starts hold and waits until its function runs.
func running(t *testing.T, opts ...pool.StartOption) *pool.Process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "running")
	p := start(t, hold, path, opts...)
	waitFile(t, path)
	return p
}

func TestProcessKill(t *testing.T) {
	p := running(t)
	if !p.Alive() {
		t.Fatal("not alive while its function runs")
	}
	if _, ok := p.ExitCode(); ok {
		t.Fatal("an exit code while it runs")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	var ee *pool.ExitError
	if err := wait(t, p); !errors.As(err, &ee) || ee.Code != -9 || ee.Status != "killed by SIGKILL" {
		t.Fatalf("Wait: %v", err)
	}
	if code, ok := p.ExitCode(); code != -9 || !ok || p.Alive() {
		t.Fatalf("exit code %d %v, alive %v", code, ok, p.Alive())
	}
	if !strings.Contains(p.String(), "exitcode=-SIGKILL") {
		t.Fatalf("String: %s", p)
	}
	if err := p.Kill(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestProcessTerminate(t *testing.T) {
	p := running(t)
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, p); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("Wait: %v", err)
	}
	if code, _ := p.ExitCode(); code != -int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want -15", code)
	}
	if err := p.Terminate(); err != nil {
		t.Fatalf("Terminate after the end: %v", err)
	}
}

func TestProcessCloseStopsARunningChild(t *testing.T) {
	p := running(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Alive() {
		t.Fatal("alive after Close")
	}
	if code, _ := p.ExitCode(); code != -int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want -15", code)
	}
	p.Close()
}

func TestProcessWaitHonoursItsContext(t *testing.T) {
	p := running(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait: %v", err)
	}
	if !p.Alive() {
		t.Fatal("a Wait that timed out ended the child")
	}
}

func TestProcessArgumentTheCodecCannotEncode(t *testing.T) {
	p, err := pool.Start(anyArg, any(func() {}))
	if !errors.Is(err, pool.ErrUnsupportedType) || p != nil {
		t.Fatalf("Start with a func argument: %v, %v", p, err)
	}
	if len(pool.ActiveChildren()) != 0 {
		t.Fatal("a child was started")
	}
	// The same function with an argument it can carry runs.
	if err := wait(t, start(t, anyArg, any([]int{1, 2}))); err != nil {
		t.Fatal(err)
	}
}

// captureStdout runs f with os.Stdout, which children inherit when they
// start, sent to a pipe, and returns what was written.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	got := make(chan string)
	go func() { b, _ := io.ReadAll(r); got <- string(b) }()
	f()
	os.Stdout = saved
	w.Close()
	return <-got
}
