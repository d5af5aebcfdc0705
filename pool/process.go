package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/multiproc/multiproc/internal/reexec"
)

// A Process runs one registered function in a child process: Python's
// multiprocessing.Process, started by Start. The child is this program
// started again (see Init); it runs fn(ctx, arg) and exits, with status 0
// when fn returned nil and 1 when it returned an error or panicked, which
// Wait reports as a *TaskError (Python's Process cannot give its
// exception back). As in Python, the function's result is dropped: use a
// Pool's Apply, or a Queue, to get values back.
//
// The child's standard output and error are this process's (os.Stdout
// and os.Stderr when Start is called), its standard input /dev/null, its
// environment this process's. It is a client of this program's resource
// tracker, so objects it creates end as the program's do.
//
// A Process's state words, as Python names them: started (Alive true,
// ExitCode not yet known), then stopped (Alive false, ExitCode known).
// Its methods are safe to call from several goroutines.
type Process struct {
	name   string
	fn     string
	daemon bool
	parent int
	cmd    *reexec.Cmd

	done chan struct{} // closed once reaped and its result read
	err  error         // Wait's answer, set before done is closed
}

// The child's answer, on its result pipe: one byte, then for a failure
// the task's error (appendTaskError). No answer at all means the child
// ended before its function returned.
const (
	resultOK     = 0
	resultFailed = 1
	// maxResult bounds what is read of an answer; a task's error with its
	// stack is a few KiB.
	maxResult = 16 << 20
)

// watch reads the child's answer, waits for it to be reaped and settles
// what Wait returns.
func (p *Process) watch(res *os.File) {
	b, _ := io.ReadAll(io.LimitReader(res, maxResult+1))
	io.Copy(io.Discard, res) // never leave a child blocked writing
	res.Close()
	p.cmd.Wait()
	p.err = p.outcome(b)
	forgetChild(p)
	close(p.done)
}

func (p *Process) outcome(answer []byte) error {
	ps := p.cmd.ProcessState()
	code, _ := reexec.ExitCode(ps)
	switch {
	case len(answer) == 1 && answer[0] == resultOK:
		return nil
	case len(answer) > 1 && answer[0] == resultFailed && len(answer) <= maxResult:
		terr, err := decodeTaskError(answer[1:])
		if err == nil {
			terr.Index = 0
			return terr
		}
	case len(answer) == 0 && code == 0:
		return nil // the function called os.Exit(0): a success, as in Python
	case len(answer) == 0:
		return &ExitError{Name: p.name, PID: p.Pid(), Code: code, Status: reexec.Status(ps)}
	}
	return fmt.Errorf("%w: process %s (pid %d) sent an answer of %d bytes that does not decode, then ended (%s)", ErrCorrupt, p.name, p.Pid(), len(answer), reexec.Status(ps))
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Pid() }

// Name is the Process's name: the ProcessName option's, or Python's
// "Process-N" (N counting this process's children from 1; a child's
// children are "Process-N:M").
func (p *Process) Name() string { return p.name }

// Func is the name of the registered function the child runs.
func (p *Process) Func() string { return p.fn }

// Daemon reports whether the child was started with the Daemon option.
func (p *Process) Daemon() bool { return p.daemon }

// Wait waits for the child to end and says how: nil when its function
// returned nil (or it exited with status 0); the function's error or
// panic as a *TaskError (Message, Stack, and errors.Is for this package's
// sentinels and the context errors); an *ExitError, which unwraps to
// ErrWorkerDied, when it ended otherwise — os.Exit(3), a signal. If ctx
// ends first, Wait returns ctx.Err() and the child runs on. It may be
// called any number of times.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ExitCode is Python's exitcode: 0 when the function returned nil, 1 when
// it returned an error or panicked, the status given to os.Exit, or minus
// the signal that killed the child (-15 after Terminate, -9 after Kill).
// exited is false while the child runs (Python's None).
func (p *Process) ExitCode() (code int, exited bool) {
	return reexec.ExitCode(p.cmd.ProcessState())
}

// Alive reports whether the child is still running (or not yet reaped,
// which follows its exit at once).
func (p *Process) Alive() bool {
	select {
	case <-p.cmd.Done():
		return false
	default:
		return true
	}
}

// Terminate sends the child SIGTERM and returns; Wait tells when it has
// ended. Go installs no SIGTERM handler, so the child ends at once, with
// ExitCode -15, its deferred calls not run (Python's terminate is the
// same). It does nothing to a child that has ended.
func (p *Process) Terminate() error {
	if err := p.cmd.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pool: terminate process %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// Kill sends the child SIGKILL and returns once it has been reaped. It is
// idempotent.
func (p *Process) Kill() error {
	p.cmd.Kill()
	<-p.done
	return nil
}

// Close ends the child if it still runs, the way every multiproc process
// is stopped — SIGTERM, then SIGKILL if it is still there after
// reexec.Grace (2 s) — and returns once it has been reaped. It is
// idempotent; Wait, ExitCode and the rest still answer after it. (Python's
// close refuses a running process instead; in Go, Close must release.)
func (p *Process) Close() error {
	p.cmd.Stop()
	<-p.done
	return nil
}

// String describes p as Python's repr does:
// <Process name='Process-1' pid=4242 parent=4200 stopped exitcode=-SIGTERM>.
func (p *Process) String() string {
	state := "started"
	if code, ok := p.ExitCode(); ok {
		state = fmt.Sprintf("stopped exitcode=%d", code)
		if sig := reexec.Signal(p.cmd.ProcessState()); sig != 0 {
			state = "stopped exitcode=-" + reexec.SignalName(sig)
		}
	}
	if p.daemon {
		state += " daemon"
	}
	return fmt.Sprintf("<Process name='%s' pid=%d parent=%d %s>", p.name, p.Pid(), p.parent, state)
}

// children are the Processes this process started that are not reaped yet.
var children struct {
	mu   sync.Mutex
	live []*Process
}

func noteChild(p *Process) {
	children.mu.Lock()
	defer children.mu.Unlock()
	children.live = append(children.live, p)
}

func forgetChild(p *Process) {
	children.mu.Lock()
	defer children.mu.Unlock()
	for i, c := range children.live {
		if c == p {
			children.live = append(children.live[:i], children.live[i+1:]...)
			return
		}
	}
}

// ActiveChildren returns the Processes this process started that are
// still running, in the order they were started. (Python's also joins the
// finished ones; here a Cmd reaps each child as soon as it exits.)
func ActiveChildren() []*Process {
	children.mu.Lock()
	defer children.mu.Unlock()
	var out []*Process
	for _, p := range children.live {
		if p.Alive() {
			out = append(out, p)
		}
	}
	return out
}
