package workload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Go workers are this very binary re-executed with a role in its
// environment; Main, called first in main or TestMain, runs the role and
// exits. The protocol is the C harness's (c/common.h), with the process
// that measures as the coordinator:
//
//  1. the coordinator makes the shared objects (setup) and starts each
//     worker with its CPU affinity already set, so the Go runtime of the
//     worker sizes GOMAXPROCS from it (startOnCPU);
//  2. a worker opens the objects, prints "ready gomaxprocs=G cpus=LIST"
//     and reads its stdin until EOF;
//  3. once every worker is ready the coordinator closes their stdins, so
//     all of them start together;
//  4. each stamps CLOCK_MONOTONIC before its first op and after its last,
//     prints "span START END" and exits 0 (or prints an error on stderr
//     and exits 1);
//  5. the coordinator takes (latest end - earliest start) / N as the
//     ns/op, and checks what the shared state says (an exact count).
const (
	envRole  = "MULTIPROC_BENCH_ROLE"
	envArgs  = "MULTIPROC_BENCH_ARGS"
	envIndex = "MULTIPROC_BENCH_INDEX"
	envProcs = "MULTIPROC_BENCH_PROCS"
	envOps   = "MULTIPROC_BENCH_OPS"
)

// A role is the body of a worker: it opens what args name and returns
// the timed loop of w.Ops ops, and what to close after it.
type role func(w worker) (run func() error, closeFn func(), err error)

// worker is what a role knows of itself.
type worker struct {
	Index, Procs, Ops int
	Args              []string
}

var roles = map[string]role{}

func register(name string, r role) {
	if _, dup := roles[name]; dup {
		panic("workload: role registered twice: " + name)
	}
	roles[name] = r
}

// Main runs this process's worker role and exits, if it is a worker
// started by a measurement; otherwise it returns at once. Call it first in
// main, and in TestMain of a test binary that measures.
func Main() {
	name, ok := os.LookupEnv(envRole)
	if !ok {
		return
	}
	if err := runWorker(name); err != nil {
		fmt.Fprintf(os.Stderr, "workload worker %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runWorker(name string) error {
	r, ok := roles[name]
	if !ok {
		return fmt.Errorf("no such role")
	}
	var w worker
	var err error
	for _, v := range []struct {
		env string
		p   *int
	}{{envIndex, &w.Index}, {envProcs, &w.Procs}, {envOps, &w.Ops}} {
		if *v.p, err = strconv.Atoi(os.Getenv(v.env)); err != nil {
			return fmt.Errorf("%s: %v", v.env, err)
		}
	}
	if a := os.Getenv(envArgs); a != "" {
		w.Args = strings.Split(a, "\x1f")
	}
	run, closeFn, err := r(w)
	if err != nil {
		return err
	}
	defer closeFn()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return err
	}
	fmt.Printf("ready gomaxprocs=%d cpus=%s\n", runtime.GOMAXPROCS(0), cpuList(&set))
	io.Copy(io.Discard, os.Stdin) // the gate: EOF when the coordinator says go
	start := monotonic()
	if err := run(); err != nil {
		return err
	}
	end := monotonic()
	fmt.Printf("span %d %d\n", start, end)
	return nil
}

func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func cpuList(set *unix.CPUSet) string {
	var cpus []string
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	return strings.Join(cpus, ",")
}

// shared is what a Go implementation's setup made in the coordinator: the
// names its workers open, a check of the final state and the cleanup.
type shared struct {
	args  []string
	check func(n int) error // nil: nothing to check
	close func()
}

// goWorkers is a multiproc implementation run in procs Go workers.
type goWorkers struct {
	role      string
	procs     int
	split     bool // each worker does its share of the n ops, not all n
	placement Placement
	setup     func() (*shared, error)
}

func (g goWorkers) run(ctx context.Context, e *Env, n int, t Timer) (Result, error) {
	sh, err := g.setup()
	if err != nil {
		return Result{}, err
	}
	defer sh.close()
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	ws := make([]*proc, g.procs)
	defer func() {
		for _, w := range ws {
			if w != nil {
				w.stop()
			}
		}
	}()
	cpus := g.placement.CPUs(g.procs)
	for i := range ws {
		ops := n
		if g.split {
			ops = n/g.procs + btoi(i < n%g.procs)
		}
		if ws[i], err = startWorker(g.role, i, g.procs, ops, sh.args, cpus[i]); err != nil {
			return Result{}, err
		}
	}
	res := Result{Workers: make([]WorkerInfo, g.procs)}
	for i, w := range ws {
		line, err := w.line(ctx, "ready ")
		if err != nil {
			return Result{}, err
		}
		fmt.Sscanf(line, "ready gomaxprocs=%d cpus=%s", &res.Workers[i].GOMAXPROCS, &res.Workers[i].CPUs)
	}
	t.StartTimer()
	for _, w := range ws {
		w.stdin.Close() // go
	}
	// The spans come in any order, and the first worker to fail ends the
	// run: its peer may be blocked on it for good.
	type span struct {
		s, e int64
		err  error
	}
	spans := make(chan span, len(ws))
	for i, w := range ws {
		go func() {
			line, err := w.line(ctx, "span ")
			if err == nil {
				err = w.wait(ctx)
			}
			var sp span
			if err == nil {
				if _, serr := fmt.Sscanf(line, "span %d %d", &sp.s, &sp.e); serr != nil {
					err = fmt.Errorf("worker %d: %q: %v", i, line, serr)
				}
			}
			sp.err = err
			spans <- sp
		}()
	}
	var first, last int64
	for i := range ws {
		sp := <-spans
		if sp.err != nil {
			cancel() // the other collectors stop waiting
			return Result{}, sp.err
		}
		if i == 0 || sp.s < first {
			first = sp.s
		}
		if i == 0 || sp.e > last {
			last = sp.e
		}
	}
	t.StopTimer()
	if sh.check != nil {
		if err := sh.check(n); err != nil {
			return Result{}, err
		}
	}
	res.NsPerOp = float64(last-first) / float64(n)
	return res, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// proc is one running Go worker.
type proc struct {
	i      int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr syncBuffer
	done   chan struct{}
	err    error
}

func startWorker(roleName string, i, procs, ops int, args []string, cpu int) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var argv []string
	if testing.Testing() {
		// Should TestMain forget to call Main, the worker runs no tests.
		argv = []string{"-test.run=^$", "-test.bench=^$"}
	}
	cmd := exec.Command(exe, argv...)
	cmd.Env = append(os.Environ(),
		envRole+"="+roleName, envArgs+"="+strings.Join(args, "\x1f"),
		envIndex+"="+strconv.Itoa(i), envProcs+"="+strconv.Itoa(procs), envOps+"="+strconv.Itoa(ops),
		// Race-built binaries sleep 1 s at exit by default.
		"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{i: i, cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &p.stderr
	if err := startOnCPU(cmd, cpu); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for more than the two lines
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// line waits for the worker's next line starting with prefix.
func (p *proc) line(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-p.done:
			select {
			case l := <-p.lines:
				if strings.HasPrefix(l, prefix) {
					return l, nil
				}
				continue
			default:
			}
			return "", fmt.Errorf("worker %d exited before printing %q: %v\n%s", p.i, strings.TrimSpace(prefix), p.err, p.stderr.String())
		case <-ctx.Done():
			p.quitIfHung(ctx)
			return "", fmt.Errorf("worker %d: %w waiting for %q\n%s", p.i, ctx.Err(), strings.TrimSpace(prefix), p.stderr.String())
		}
	}
}

func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.quitIfHung(ctx)
		return fmt.Errorf("worker %d: %w waiting for its exit\n%s", p.i, ctx.Err(), p.stderr.String())
	}
	if p.err != nil {
		return fmt.Errorf("worker %d: %v\n%s", p.i, p.err, p.stderr.String())
	}
	return nil
}

// quitIfHung sends SIGQUIT when ctx ended by its deadline (not by a
// cancel), so a hung Go worker prints its goroutines, and gives it a
// moment to do so.
func (p *proc) quitIfHung(ctx context.Context) {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return
	}
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(time.Second):
	}
}

// stop kills the worker's process group unless it has exited, and reaps it.
func (p *proc) stop() {
	p.stdin.Close()
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startOnCPU starts cmd with its CPU affinity set to cpu from its first
// instruction (cpu < 0: inherited, as cmd.Start). A child inherits the
// affinity of the thread that forks it, and exec keeps it, so the calling
// goroutine is locked to its thread, the thread pinned, the child started
// and the thread's affinity put back. This is taskset(1) without the
// extra exec: a Go child's runtime then sizes GOMAXPROCS from the mask
// (one CPU: GOMAXPROCS 1), which pinning a thread after start never does.
func startOnCPU(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil {
		// The thread stays pinned: keep it locked to this goroutine, so
		// the runtime never schedules anything else on it.
		return errors.Join(err, fmt.Errorf("restore the thread's CPU affinity: %w", rerr))
	}
	runtime.UnlockOSThread()
	return err
}
