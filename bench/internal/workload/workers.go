package workload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/pool"
)

// Go workers are this very binary re-executed in a role (internal/reexec:
// the role marker, the command, parent death and the stop sequence are the
// ones every multiproc process uses); Main, called first in main or
// TestMain, runs the role and exits. The protocol is the C harness's
// (c/common.h), with the process that measures as the coordinator:
//
//  1. the coordinator makes the shared objects (setup) and starts each
//     worker with its CPU affinity already set, so the Go runtime of the
//     worker sizes GOMAXPROCS from it (reexec.Cmd.Affinity), and with
//     ParentDeath, so a worker never outlives a coordinator killed in the
//     middle of a run;
//  2. a worker opens the objects, prints "ready gomaxprocs=G cpus=LIST"
//     and reads its stdin until EOF;
//  3. once every worker is ready the coordinator closes their stdins, so
//     all of them start together;
//  4. each stamps CLOCK_MONOTONIC before its first op and after its last,
//     prints "span START END" and exits 0 (or prints an error on stderr
//     and exits 1);
//  5. the coordinator takes (latest end - earliest start) / N as the
//     ns/op, and checks what the shared state says (an exact count).
//
// A worker's role is "bench.NAME", its arguments INDEX PROCS OPS and then
// the names its setup gave.
const rolePrefix = "bench."

// A role is the body of a worker: it opens what args name and returns
// the timed loop of w.Ops ops, and what to close after it.
type role func(w worker) (run func() error, closeFn func(), err error)

// worker is what a role knows of itself.
type worker struct {
	Index, Procs, Ops int
	Args              []string
}

// register makes r the worker role name; call it from an init function,
// so every copy of the binary knows the same roles.
func register(name string, r role) {
	reexec.Register(rolePrefix+name, func(args []string) int {
		if err := runWorker(r, args); err != nil {
			fmt.Fprintf(os.Stderr, "workload worker %s: %v\n", name, err)
			return 1
		}
		return 0
	})
}

// Main runs this process's worker role and exits, if it is a worker
// started by a measurement (or any other role of this binary: a Pool's
// worker, a Process's child); otherwise it returns at once. Call it first
// in main, and in TestMain of a test binary that measures. It is
// pool.Init, which the Pool workloads need too.
func Main() { pool.Init() }

// runWorker runs role r with its arguments INDEX PROCS OPS NAME...
func runWorker(r role, args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("%d arguments, want INDEX PROCS OPS ...", len(args))
	}
	var w worker
	var err error
	for i, p := range []*int{&w.Index, &w.Procs, &w.Ops} {
		if *p, err = strconv.Atoi(args[i]); err != nil {
			return fmt.Errorf("argument %d: %v", i, err)
		}
	}
	w.Args = args[3:]
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
	cmd    *reexec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr syncBuffer
	done   chan struct{} // closed once its output is read and it is reaped
	err    error
}

func startWorker(roleName string, i, procs, ops int, args []string, cpu int) (*proc, error) {
	c := reexec.Command(rolePrefix+roleName, append([]string{strconv.Itoa(i), strconv.Itoa(procs), strconv.Itoa(ops)}, args...)...)
	// Race-built binaries sleep 1 s at exit by default.
	c.Cmd.Env = append(c.Cmd.Env, "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	c.ParentDeath = true
	c.Group = true // Kill takes whatever the worker started with it
	if cpu >= 0 {
		c.Affinity = new(unix.CPUSet)
		c.Affinity.Set(cpu)
	}
	p := &proc{i: i, cmd: c, lines: make(chan string, 16), done: make(chan struct{})}
	stdin, err := c.Cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Not StdoutPipe: a reexec.Cmd's reaper waits as soon as the child
	// exits, which would close it under the reader.
	stdout, w, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	c.Cmd.Stdout, c.Cmd.Stderr = w, &p.stderr
	err = c.Start()
	w.Close()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, err
	}
	p.stdin = stdin
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for more than the two lines
			}
		}
		stdout.Close()
		p.err = c.Wait()
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
	p.cmd.Signal(syscall.SIGQUIT)
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
	p.cmd.Kill()
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
